"""How much voting over sampled tool calls could add: an experiment, not a feature (yet).

For each Calculate and Solve case, the shipped adapter writes phase 1 once greedily and ``--k``
times sampled (``--temperature``, top-p 0.95, seed ``--seed``), in batches of 16. Each first
command is run through the real calculator or solver; the vote goes to the result most of the
k + 1 commands reach (a tie keeps the greedy one), the way self-consistency votes over answers.
Prints, per tool, the argument accuracy of greedy decoding, of the mean sample, of the vote,
and the oracle (any of the k + 1 right), scored exactly as ``moss-agent eval`` scores arguments.

Run: .venv/bin/python scripts/vote_headroom.py [--cases finetune/assets/eval_cases.jsonl]
     [--k 8] [--temperature 0.7] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any

from agent import Agent
from finetune.evaluate import Case, calculate_matches, read_cases, solve_matches
from moss_core import protocol
from plugins.calculator import evaluate as calculate
from plugins.solver import solve

Call = tuple[str | None, str | None]


def first_call(text: str) -> Call:
    calls = protocol.parse_phase1(text).parsed.calls
    return (calls[0].name, calls[0].argument) if calls else (None, None)


def result(call: Call) -> Any:
    """What the tool returns for the call, rounded so equal answers compare equal."""
    name, argument = call
    try:
        if name == "Calculate" and argument is not None:
            return (name, round(float(calculate(argument)), 6))
        if name == "Solve" and argument is not None:
            return (name, tuple(sorted(round(float(v), 6) for v in solve(argument).values())))
    except Exception:
        return None
    return None


def right(case: Case, call: Call) -> bool:
    name, argument = call
    if name != case.tool or argument is None:
        return False
    if name == "Calculate":
        return calculate_matches(argument, case.value or 0.0)
    return solve_matches(argument, case.solutions or {})


def vote(greedy: Call, samples: list[Call]) -> Call:
    counts = Counter(r for c in [greedy, *samples] if (r := result(c)) is not None)
    if not counts:
        return greedy
    best = max(counts.values())
    mine = result(greedy)
    winner = mine if mine is not None and counts[mine] == best else counts.most_common(1)[0][0]
    return next(c for c in [greedy, *samples] if result(c) == winner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="finetune/assets/eval_cases.jsonl")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    cases = [c for c in read_cases(args.cases) if c.tool in ("Calculate", "Solve")]
    agent = Agent.default(device="cpu")
    backend = agent.backend
    prompts = [protocol.render_prompt(agent.meta_instruction, [], c.query) for c in cases]

    def phase1(batch: list[str]) -> list[Call]:
        calls: list[Call] = []
        for i in range(0, len(batch), 16):
            gens = backend.generate_batch(  # type: ignore[attr-defined]
                batch[i : i + 16], stop=protocol.PHASE1_STOP, max_new_tokens=160
            )
            calls += [first_call(g.text) for g in gens]
        return calls

    started = time.perf_counter()
    greedy = phase1(prompts)
    backend.temperature, backend.top_p = args.temperature, 0.95  # type: ignore[attr-defined]
    backend._generator.manual_seed(args.seed)  # type: ignore[attr-defined]
    flat = phase1([p for p in prompts for _ in range(args.k)])
    samples = [flat[i * args.k : (i + 1) * args.k] for i in range(len(cases))]
    print(f"{len(cases)} cases, {args.k} samples each, {time.perf_counter() - started:.0f} s")
    for tool in ("Calculate", "Solve"):
        rows = [(c, g, s) for c, g, s in zip(cases, greedy, samples, strict=True) if c.tool == tool]
        if not rows:
            continue
        n = len(rows)
        scores = {
            "greedy": sum(right(c, g) for c, g, _ in rows),
            "mean sample": sum(sum(right(c, x) for x in s) / args.k for c, _, s in rows),
            "vote": sum(right(c, vote(g, s)) for c, g, s in rows),
            "oracle": sum(any(right(c, x) for x in [g, *s]) for c, g, s in rows),
        }
        shown = ", ".join(f"{k} {v / n:.3f}" for k, v in scores.items())
        print(f"{tool} ({n} cases): {shown}")


if __name__ == "__main__":
    main()
