"""How well the classifier tells an opt-out from everything else, over the labelled corpus.

    .venv/bin/python benchmarks/revocations.py [--corpus tests/data/revocations.csv] [--misses]

Automatic opt-out is the positive class: a message labelled opt_out counts as
found only when it is classified OPT_OUT. A POSSIBLE_OPT_OUT is no automatic
opt-out (a person confirms it), so it lowers recall when the label was
opt_out, and is counted separately. The corpus was written by the same hand as
the rules and every row is also a test, so these figures describe the corpus,
not the traffic of any business.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter

from harness import ROOT

OUTCOMES = ("opt_out", "possible", "none", "opt_in", "help")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(ROOT / "tests/data/revocations.csv"))
    parser.add_argument("--misses", action="store_true", help="list every message classified other than labelled")
    args = parser.parse_args()

    from chalicelib.services.keywords import classify

    with open(args.corpus, encoding="utf-8", newline="") as corpus:
        rows = list(csv.DictReader(corpus))
    confusion: Counter[tuple[str, str]] = Counter()
    misses = []
    started = time.perf_counter()
    for row in rows:
        keyword = classify(row["message"])
        found = "none" if keyword is None else keyword.kind.value.removesuffix("_opt_out")
        confusion[row["expected"], found] += 1
        if found != row["expected"]:
            misses.append((row["expected"], found, row["message"]))
    per_message = (time.perf_counter() - started) / len(rows) * 1e6

    true_positives = confusion["opt_out", "opt_out"]
    found_positive = sum(n for (_, found), n in confusion.items() if found == "opt_out")
    labelled_positive = sum(n for (expected, _), n in confusion.items() if expected == "opt_out")
    possible = sum(n for (_, found), n in confusion.items() if found == "possible")
    print(f"Revocation classifier, {len(rows)} messages from {args.corpus}\n")
    precision = f"{true_positives / max(found_positive, 1):7.1%}  ({true_positives}/{found_positive})"
    recall = f"{true_positives / max(labelled_positive, 1):7.1%}  ({true_positives}/{labelled_positive})"
    print(f"  automatic opt-out precision  {precision}")
    print(f"  automatic opt-out recall     {recall}")
    print(f"  sent to POSSIBLE (a person)  {possible:7d}  ({possible / len(rows):.1%} of messages)")
    print(f"  classify time / message      {per_message:7.1f} µs")
    print("\n  labelled \\ classified " + "".join(f"{o:>10}" for o in OUTCOMES))
    for expected in OUTCOMES:
        print(f"  {expected:<22}" + "".join(f"{confusion[expected, found]:>10}" for found in OUTCOMES))
    if args.misses:
        print("\n  misses (labelled -> classified):")
        for expected, found, message in misses:
            print(f"    {expected} -> {found}: {message!r}")


if __name__ == "__main__":
    main()
