"""Two ``moss-agent eval --json`` reports of the same cases, side by side: how many turns are
identical (thoughts, Commands line and reply), every metric of both, and each case that differs.

Where B ran with votes (or retries), a case's line may differ for two reasons: B's vote replaced
its own greedy line (``turn.retried_from`` is set), or B's greedy line itself differs (near ties
tip with the KV cache's state: llama.cpp's numbers for a reused prefix depend slightly on how
its tokens were batched). The last lines count the argument changes of each kind, so a vote is
measured by its own changes.

Run: .venv/bin/python benchmarks/compare_eval_runs.py A.json B.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(a_path: str, b_path: str) -> None:
    a, b = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (a_path, b_path))
    print(f"A: {a.get('backend', a_path)}\nB: {b.get('backend', b_path)}")
    cases_b = {c["id"]: c for c in b["cases"]}
    same, differ = 0, []
    for case in a["cases"]:
        other = cases_b[case["id"]]
        key = ("thoughts", "commands_text", "reply")
        if all(case["turn"][k] == other["turn"][k] for k in key):
            same += 1
        else:
            differ.append((case, other))
    print(f"identical turns: {same} of {len(a['cases'])}")
    print(f"{'metric':<22}{'A':>8}{'B':>8}")
    for metric, value in a["metrics"].items():
        other = b["metrics"].get(metric)
        print(f"{metric:<22}{fmt(value):>8}{fmt(other):>8}")
    changes = {cause: {"right": 0, "wrong": 0, "either way": 0} for cause in ("vote", "greedy")}
    for case, other in differ:
        marks = "".join(
            "+" if case[k] and not other[k] else "-" if other[k] and not case[k] else "="
            for k in ("argument_correct", "answer_correct")
        )
        voted = other["turn"].get("retried_from")
        print(f"\n{case['id']} [{marks}] {case['query']}")
        print(f"  A: {case['turn']['commands_text']} | {case['turn']['reply'][:90]}")
        print(f"  B: {other['turn']['commands_text']} | {other['turn']['reply'][:90]}")
        if voted:
            print(f"     (B's vote replaced its greedy line {voted})")
        if voted or case["turn"]["commands_text"] != other["turn"]["commands_text"]:
            change = {(False, True): "right", (True, False): "wrong"}.get(
                (case["argument_correct"], other["argument_correct"]), "either way"
            )
            changes["vote" if voted else "greedy"][change] += 1
    for cause, counts in changes.items():
        what = "the vote" if cause == "vote" else "a different greedy line"
        print(f"B's lines changed by {what}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))


if __name__ == "__main__":
    main(*sys.argv[1:3])
