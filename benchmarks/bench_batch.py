"""Turns run one by one (``Agent.chat``) vs. together (``chat_batch``), in one run.

The shipped adapter answers the same held-out questions (every 12th of
finetune/assets/eval_cases.jsonl: all four kinds, so turns of different lengths share a batch)
as a fresh single-turn conversation each, as ``moss-agent eval`` runs them: first one by one,
then in batches of each ``--batch`` size. Search looks in the evaluation corpus. Prints the
wall time and questions per second of each way, its speed-up over one by one, and how many
turns came out exactly as they did one by one (thoughts, Commands, Results and reply).

Run: .venv/bin/python benchmarks/bench_batch.py [--batch 4 16] [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

from machine import report_machine  # benchmarks/machine.py, beside this script

from agent import Agent, Turn, chat_batch
from finetune.evaluate import read_cases, read_corpus
from finetune.synth.evalcases import ASSETS


def seen(turn: Turn) -> tuple[str, ...]:
    return (turn.thoughts, turn.commands_text, turn.results_text, turn.reply)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--every", type=int, default=12, help="take every Nth held-out case")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    report_machine(args.threads)

    from plugins import search
    from plugins.search import Hit, LocalIndex

    index = LocalIndex()
    index.add_many(
        Hit(d["id"], d["title"], d["text"]) for d in read_corpus(ASSETS / "eval_corpus.jsonl")
    )
    search.configure(backend=index)
    questions = [c.query for c in read_cases(ASSETS / "eval_cases.jsonl")][:: args.every]
    agent = Agent.default(device=args.device, max_thought_tokens=160, max_reply_tokens=128)
    agent.chat("hello")  # warm-up: first-call allocations
    print(f"{len(questions)} questions, {agent.backend.name}")

    started = time.perf_counter()
    alone = []
    for q in questions:
        agent.reset()
        alone.append(agent.chat(q))
    base = time.perf_counter() - started
    tokens = sum(
        t.thoughts_stats.completion_tokens + t.reply_stats.completion_tokens for t in alone
    )
    print(f"one by one: {base:.1f} s, {len(questions) / base:.2f} questions/s "
          f"({tokens} tokens generated)")  # fmt: skip
    for size in args.batch:
        started = time.perf_counter()
        batched: list[Turn] = []
        for i in range(0, len(questions), size):
            chunk = questions[i : i + size]
            batched += chat_batch([agent.copy(history=False) for _ in chunk], chunk)
        wall = time.perf_counter() - started
        same = sum(seen(a) == seen(b) for a, b in zip(alone, batched, strict=True))
        print(f"batches of {size}: {wall:.1f} s, {len(questions) / wall:.2f} questions/s, "
              f"{base / wall:.2f}x one by one; {same} of {len(questions)} turns "
              "identical")  # fmt: skip
    search.configure()


if __name__ == "__main__":
    main()
