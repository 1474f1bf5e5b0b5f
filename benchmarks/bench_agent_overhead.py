"""What the Agent adds to a turn, beyond the model calls it makes.

    .venv/bin/python benchmarks/bench_agent_overhead.py [--turns 4] [--threads 1]

Runs real turns of the default model through ``Agent.chat`` and, for each, replays the same
two generations (same prompts, same number of new tokens, greedy) with plain
``model.generate`` on a fresh cache. Prints, per turn: the Agent's wall time, the time its
backend spent in the model, the tools' time, and the rest (the Agent's own overhead: prompt
building, parsing, dispatch, events), plus the bare ``generate`` time for the same tokens.
Ratios are taken within one run, so machine load affects both sides alike.
"""

from __future__ import annotations

import argparse
import time

from machine import report_machine  # benchmarks/machine.py, beside this script

from agent import Agent
from agent.backends.transformers import TransformersBackend
from moss_core import protocol

QUESTIONS = [
    "What is 4,817 times 63?",
    "What is 15% of 2,460?",
    "Solve 3x + 7 = 25",
    "Thanks! Can you write one line about the sea?",
]


def bare_generate(backend: TransformersBackend, prompt: str, new_tokens: int) -> float:
    """Seconds for ``model.generate`` to produce ``new_tokens`` after ``prompt`` (no cache)."""
    import torch

    ids = backend.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    start = time.perf_counter()
    with torch.inference_mode():
        backend.model.generate(
            ids.to(backend.device),
            attention_mask=torch.ones_like(ids).to(backend.device),
            max_new_tokens=max(1, new_tokens),
            min_new_tokens=max(1, new_tokens),
            do_sample=False,
            pad_token_id=backend.tokenizer.eos_token_id,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=len(QUESTIONS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    report_machine(args.threads)
    agent = Agent.default(max_thought_tokens=48, max_reply_tokens=48)
    backend = agent.backend
    assert isinstance(backend, TransformersBackend)
    print("turn  agent s  model s  tools s  overhead s (share)  bare generate s  agent/bare")
    for i, question in enumerate(QUESTIONS[: args.turns]):
        prompt1 = protocol.render_prompt(
            agent.meta_instruction, [t.exchange for t in agent.history], question
        )
        turn = agent.chat(question)
        t, r = turn.thoughts_stats, turn.reply_stats
        model = t.prefill_seconds + t.decode_seconds + r.prefill_seconds + r.decode_seconds
        overhead = turn.seconds - model - turn.tools_seconds
        prompt2 = prompt1 + protocol.results_prefix(
            turn.thoughts, turn.commands_text, turn.results_text
        )
        bare = bare_generate(backend, prompt1, t.completion_tokens) + bare_generate(
            backend, prompt2, r.completion_tokens
        )
        print(
            f"{i + 1:>4}  {turn.seconds:7.2f}  {model:7.2f}  {turn.tools_seconds:7.3f}  "
            f"{overhead:9.3f} ({overhead / turn.seconds:5.1%})  {bare:15.2f}  "
            f"{turn.seconds / bare:9.2f}"
        )


if __name__ == "__main__":
    main()
