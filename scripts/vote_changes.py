"""Which lines a votes run changed against a greedy run of the same cases, and why.

A line can differ for two reasons: the vote replaced the run's own greedy line (the turn's
``retried_from`` is set), or the run's greedy line itself differs. The second happens at near
ties: llama.cpp's numbers for a reused prefix depend slightly on how its tokens were batched,
and a run with votes leaves the KV cache in other states between turns. Counting only the
first kind measures the vote; the metrics of the two runs count both.

Run: .venv/bin/python scripts/vote_changes.py GREEDY.json VOTES.json [--all]
(both written by ``moss-agent eval --json``; ``--all`` also lists changes that were wrong, or
right, either way)
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def cases(path: str) -> dict[str, dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return {c["id"]: c for c in json.load(f)["cases"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("greedy")
    parser.add_argument("votes")
    parser.add_argument("--all", action="store_true", help="list every changed line")
    args = parser.parse_args()
    base, run = cases(args.greedy), cases(args.votes)
    counts = {cause: {"right": 0, "wrong": 0, "either way": 0} for cause in ("vote", "greedy")}
    for case_id, after in run.items():
        before = base[case_id]
        turn = after.get("turn") or {}
        voted = turn.get("retried_from")
        if not voted and (before["called"], before["argument"]) == (
            after["called"],
            after["argument"],
        ):
            continue
        cause = "vote" if voted else "greedy"
        change = {(False, True): "right", (True, False): "wrong"}.get(
            (before["argument_correct"], after["argument_correct"]), "either way"
        )
        counts[cause][change] += 1
        if args.all or change != "either way":
            was = (before.get("turn") or {}).get("commands_text")
            print(f"{cause:6} {change:10} {case_id}: {was} -> {turn.get('commands_text')}")
    for cause, by in counts.items():
        what = "the vote" if cause == "vote" else "a different greedy line"
        print(f"changed by {what}: " + ", ".join(f"{n} {k}" for k, n in by.items()))


if __name__ == "__main__":
    main()
