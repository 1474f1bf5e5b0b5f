"""What voting costs: a Calculate or Solve turn with ``Agent(votes=k)`` for k = 0, 4 and 8.

Votes rank the model's k most likely phase-1 readings beside the greedy one (beam search on
both local engines), or draw k of them (``--draw samples``), run their commands and keep the
result most readings reach. Only turns
whose line calls a grounded plugin (Calculate, Solve) vote; every other turn costs nothing
extra. Each question is run with each k in turn, ``--runs`` times, on a fresh conversation;
prints the median turn time for each k, its ratio to k = 0, and the Commands line each k kept.
The questions are our own, not from a benchmark.

Run: .venv/bin/python benchmarks/bench_votes.py [--runs 2] [--engine llama.cpp transformers]
     [--draw beams samples]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time

from agent import Agent
from agent.voting import DRAWS, Draw

QUESTIONS = [
    "A baker makes 36 rolls and sells 19 of them. How many rolls are left?",
    "Each box holds 12 pencils. How many pencils are in 7 boxes?",
    "What is 15% of 2,460?",
    "Adult tickets cost $8 and child tickets $5. 30 people paid $195 in all. How many adults?",
]
KS = (0, 4, 8)


def bench(engine: str, runs: int, draw: Draw) -> None:
    agent = Agent.default(
        engine=engine, max_thought_tokens=160, max_reply_tokens=128, vote_draw=draw
    )
    agent.chat("Hello!")  # warm-up: first-call allocations are not a vote's cost
    print(f"\nengine {engine}, candidates: {draw}")
    print(f"{'question':<44}" + "".join(f" {'k=' + str(k) + ' s':>8}" for k in KS) + "  lines")
    for question in QUESTIONS:
        times: dict[int, list[float]] = {k: [] for k in KS}
        lines: dict[int, str] = {}
        for _ in range(runs):
            for k in KS:
                agent.votes = k
                agent.reset()
                started = time.perf_counter()
                turn = agent.chat(question)
                times[k].append(time.perf_counter() - started)
                lines[k] = turn.commands_text
        medians = {k: statistics.median(times[k]) for k in KS}
        cells = "".join(f" {medians[k]:>8.1f}" for k in KS)
        ratios = " ".join(f"{medians[k] / medians[0]:.1f}x" for k in KS[1:])
        print(f"{question[:44]:<44}{cells}  ({ratios}) " + " | ".join(lines[k] for k in KS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--engine", nargs="+", default=["llama.cpp", "transformers"])
    parser.add_argument("--draw", nargs="+", choices=DRAWS, default=["beams"])
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load}")
    logging.getLogger("agent.dispatch").setLevel(logging.ERROR)
    for engine in args.engine:
        for draw in args.draw:
            bench(engine, args.runs, draw)


if __name__ == "__main__":
    main()
