"""Two ``moss-agent eval --json`` reports of the same cases, side by side: how many turns are
identical (thoughts, Commands line and reply), every metric of both, and each case that differs.

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
    for case, other in differ:
        marks = "".join(
            "+" if case[k] and not other[k] else "-" if other[k] and not case[k] else "="
            for k in ("argument_correct", "answer_correct")
        )
        print(f"\n{case['id']} [{marks}] {case['query']}")
        print(f"  A: {case['turn']['commands_text']} | {case['turn']['reply'][:90]}")
        print(f"  B: {other['turn']['commands_text']} | {other['turn']['reply'][:90]}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
