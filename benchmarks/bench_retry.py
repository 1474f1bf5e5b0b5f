"""What a retry costs: a turn whose command fails, with and without ``Agent(alternatives=4)``.

The shipped adapter answers questions whose first Commands line fails: two held-out systems it
misreads (a third equation ``x=y``; two of its next readings agree on the right system, so the
retry keeps it) and two that have no answer (every other reading fails too, so the failed line
stands). Each is run with retries off and on, alternating, ``--runs`` times; prints the median
turn time of each, the ratio, and whether the retry was kept. Turns that succeed first time
never retry, so they cost nothing extra.

Run: .venv/bin/python benchmarks/bench_retry.py [--runs 3] [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

from machine import report_machine  # benchmarks/machine.py, beside this script

from agent import Agent

QUESTIONS = [
    "Given 7*x + y = 92 and also -2*x + y = -16, find x and y.",
    "Given -2x - 2y = 14; 4x - y = -18, find x and y.",
    "Solve x + y = 3 and x + y = 4.",
    "What is the square root of -4?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    report_machine(args.threads)
    logging.getLogger("agent.dispatch").setLevel(logging.ERROR)  # the failures are the point
    agent = Agent.default(device=args.device, max_thought_tokens=160, max_reply_tokens=128)
    agent.chat("Hello!")  # warm-up: first-call allocations are not a retry's cost
    print(f"{'question':<60} {'off s':>7} {'on s':>7} {'ratio':>6}  kept")
    for question in QUESTIONS:
        times: dict[int, list[float]] = {0: [], 4: []}
        kept = None
        for _ in range(args.runs):
            for n in (0, 4):
                agent.alternatives = n
                agent.reset()
                started = time.perf_counter()
                turn = agent.chat(question)
                times[n].append(time.perf_counter() - started)
                if n:
                    kept = turn.commands_text if turn.retried_from else "-"
        off, on = statistics.median(times[0]), statistics.median(times[4])
        print(f"{question[:60]:<60} {off:>7.1f} {on:>7.1f} {on / off:>5.2f}x  {kept}")


if __name__ == "__main__":
    main()
