"""Sorted, paged reads across several index partitions at once.

A list view is served by a few Queries (one per shard, and per search prefix)
whose sorted results are merged. Sort keys are unique strings (each ends with
the item's own key), so "everything after the last key I returned" is an exact
cursor: each Query restarts from it with a key condition, and no item is
returned twice or skipped.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

_HIGHEST = "\U0010ffff"
FILTERED_PAGE_SIZE = 100
"""Items a filtered Query evaluates per request. DynamoDB applies `Limit` before the filter, so a
page-sized limit takes dozens of round trips to find rare matches, while a large one reads far
past a page of common ones; `benchmarks/inbox.py` measured 100 as the balance."""


@dataclass(frozen=True)
class Stream:
    """One Query: a partition of an index, optionally limited to a key prefix."""

    index: GlobalSecondaryIndex
    partition: str
    key_attr: str
    prefix: str = ""

    def key_of(self, item: Model) -> str:
        return getattr(item, self.key_attr)

    def matches(self, item: Model) -> bool:
        return self.key_of(item).startswith(self.prefix)


def merged_query(
    streams: Sequence[Stream],
    *,
    descending: bool,
    after: str | None,
    limit: int,
    filter_condition: Condition | None = None,
) -> tuple[list[Model], str | None]:
    """Return up to `limit` items in key order after `after`, and the next cursor key.

    An item that several prefixes match (a contact whose first and last names
    both start with the query) is returned only by the first stream naming it,
    so it appears once however the pages fall.
    """
    iterators = [
        _read(stream, streams[:position], descending, after, limit, filter_condition)
        for position, stream in enumerate(streams)
    ]
    merged = heapq.merge(*iterators, key=lambda pair: pair[0], reverse=descending)
    page = list(itertools.islice(_distinct(merged), limit + 1))
    items = [item for _, item in page[:limit]]
    next_after = page[limit - 1][0] if len(page) > limit else None
    return items, next_after


def _distinct(pairs: Iterator[tuple[str, Model]]) -> Iterator[tuple[str, Model]]:
    """Drop repeats of a key: streams over different partitions can hold the same item (its key is unique)."""
    previous = None
    for key, item in pairs:
        if key != previous:
            yield key, item
        previous = key


def _read(
    stream: Stream,
    earlier: Sequence[Stream],
    descending: bool,
    after: str | None,
    limit: int,
    filter_condition: Condition | None,
) -> Iterator[tuple[str, Model]]:
    condition = _range_condition(stream, descending, after)
    if condition is False:
        return
    rivals = [s for s in earlier if (s.key_attr, s.prefix) != (stream.key_attr, stream.prefix)]
    results = stream.index.query(
        stream.partition,
        range_key_condition=condition,
        filter_condition=filter_condition,
        scan_index_forward=not descending,
        page_size=limit + 1 if filter_condition is None else FILTERED_PAGE_SIZE,
    )
    for item in results:
        key = stream.key_of(item)
        if key == after or any(rival.matches(item) for rival in rivals):
            continue
        yield key, item


def _range_condition(stream: Stream, descending: bool, after: str | None) -> Any:
    """The key condition for a stream, or False when nothing can match."""
    attr = getattr(type(stream.index), stream.key_attr)
    if not stream.prefix:
        if after is None:
            return None
        return attr < after if descending else attr > after
    low, high = stream.prefix, stream.prefix + _HIGHEST
    if after is not None:
        if descending:
            high = min(high, after)
        else:
            low = max(low, after)
    if low > high:
        return False
    return attr.between(low, high)
