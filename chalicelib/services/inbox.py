"""The inbox views (Inbox, All Open, Closed), a contact's conversations, and closing many at once.

Each view is a merge of Queries over the index partitions the caller may see
(see `chalicelib.models.conversations`); nothing here reads a whole table.
Filters and the search `q` are filter expressions on those Queries, so they
narrow what a page returns without widening what is read beyond the view.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from pynamodb.models import Model

from chalicelib.errors import ApiError, Forbidden, ValidationFailed
from chalicelib.models import Conversation, ConversationAccess
from chalicelib.models.contacts import fold
from chalicelib.models.conversations import UNASSIGNED, agent_principal, group_principal, state_partitions
from chalicelib.models.merged_query import Stream, merged_query
from chalicelib.services import conversations
from chalicelib.services.business_numbers import parse_business_number
from chalicelib.services.paging import Page, decode_cursor, encode_cursor
from chalicelib.services.visibility import Viewer, can_see

View = Literal["inbox", "all_open", "closed"]
Sort = Literal["date", "contact"]
BULK_CLOSE_WORKERS = 8
BULK_CLOSE_LIMIT = 500
"""Conversations one bulk close handles: about 8 s of closing, well inside API Gateway's 29 s."""


@dataclass(frozen=True)
class InboxQuery:
    view: View = "inbox"
    q: str | None = None
    agent: str | None = None
    group: str | None = None
    business_number: str | None = None
    unread: bool | None = None
    sort: Sort = "date"
    order: Literal["asc", "desc"] | None = None
    limit: int = 25
    cursor: str | None = None

    @property
    def descending(self) -> bool:
        """Dates default to newest first, contacts to A-Z."""
        if self.order is not None:
            return self.order == "desc"
        return self.sort == "date"

    def fingerprint_params(self, viewer: Viewer) -> dict[str, Any]:
        params = {k: v for k, v in self.__dict__.items() if k not in ("cursor", "limit")}
        return {**params, "viewer": viewer.username}


def list_conversations(query: InboxQuery, viewer: Viewer) -> Page:
    """One page of a view, as the viewer may see it."""
    params = query.fingerprint_params(viewer)
    after = decode_cursor(query.cursor, params)
    model, streams = _streams(query, viewer)
    items, next_after = merged_query(
        streams,
        descending=query.descending,
        after=after,
        limit=query.limit,
        filter_condition=_filters(model, query),
    )
    if model is ConversationAccess:
        items = _conversations_of(items)
    return Page([conversations.view(c) for c in items], encode_cursor(next_after, params))


def _streams(query: InboxQuery, viewer: Viewer) -> tuple[type[Model], list[Stream]]:
    key_attr = "date_key" if query.sort == "date" else "contact_key"
    if query.view == "inbox":
        index = Conversation.queue_by_date if query.sort == "date" else Conversation.queue_by_contact
        queues = [agent_principal(viewer.username), *sorted(group_principal(g) for g in viewer.groups), UNASSIGNED]
        return Conversation, [Stream(index, queue, key_attr) for queue in queues]
    if query.view == "all_open" and not viewer.is_staff:
        raise Forbidden("only admins and supervisors have the All Open view", field="view")
    if viewer.is_staff:
        index = Conversation.state_by_date if query.sort == "date" else Conversation.state_by_contact
        status = "open" if query.view == "all_open" else "closed"
        return Conversation, [Stream(index, partition, key_attr) for partition in state_partitions(status)]
    index = ConversationAccess.by_date if query.sort == "date" else ConversationAccess.by_contact
    principals = [agent_principal(viewer.username), *sorted(group_principal(g) for g in viewer.groups)]
    return ConversationAccess, [Stream(index, principal, key_attr) for principal in principals]


def _filters(model: type[Model], query: InboxQuery) -> Any:
    conditions = []
    if query.q:
        text = fold(query.q)
        digits = "".join(ch for ch in text if ch.isdigit())
        needle = text if any(ch.isalpha() for ch in text) else digits
        if not needle:
            raise ValidationFailed("q must contain a name or some digits of a number", field="q")
        conditions.append(model.contact_search.contains(needle))
    if query.agent is not None:
        conditions.append(model.assigned_agent == query.agent)
    if query.group is not None:
        conditions.append(model.assigned_group == query.group)
    if query.business_number is not None:
        number = parse_business_number(query.business_number, field="business_number")
        conditions.append(model.business_number == number)
    if query.unread is not None:
        conditions.append(model.unread == query.unread)
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def _conversations_of(entries: list[Model]) -> list[Conversation]:
    """The page's conversations in the entries' order, read with one BatchGetItem."""
    ids = [entry.conversation_id for entry in entries]
    found = {c.id: c for c in Conversation.batch_get(ids)} if ids else {}
    return [found[i] for i in ids if i in found]


def for_contact(number: str, viewer: Viewer) -> list[dict[str, Any]]:
    """A contact's conversations the viewer may see, newest first (ids sort by creation)."""
    found = Conversation.by_contact.query(number, scan_index_forward=False)
    return [conversations.view(c) for c in found if can_see(c, viewer)]


def _open_ids() -> Iterator[str]:
    for partition in state_partitions("open"):
        for conversation in Conversation.state_by_date.query(partition, attributes_to_get=["id"]):
            yield conversation.id


def close_all_open(actor: str) -> dict[str, Any]:
    """Close up to `BULK_CLOSE_LIMIT` open conversations; `more` tells the caller to call again."""
    ids = list(itertools.islice(_open_ids(), BULK_CLOSE_LIMIT + 1))
    return close_many(ids[:BULK_CLOSE_LIMIT], actor) | {"more": len(ids) > BULK_CLOSE_LIMIT}


def close_many(ids: list[str], actor: str) -> dict[str, Any]:
    """Close each conversation; one failure does not stop the rest, and each is reported with its reason."""

    def close_one(conversation_id: str) -> dict[str, Any] | None:
        try:
            conversations.close(conversation_id, actor)
        except ApiError as error:
            return {"id": conversation_id, "code": error.code, "message": error.message}
        return None

    with ThreadPoolExecutor(max_workers=BULK_CLOSE_WORKERS) as pool:
        outcomes = list(pool.map(close_one, dict.fromkeys(ids)))
    failed = [outcome for outcome in outcomes if outcome is not None]
    return {"closed": len(outcomes) - len(failed), "failed": failed, "more": False}
