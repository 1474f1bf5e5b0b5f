"""KV-cache reuse in TransformersBackend over an 8-turn, tool-using MOSS conversation.

Drives the backend the way the Agent does (moss_core.protocol: render_prompt, parse_phase1,
results_prefix, parse_reply), on the default model (SmolLM2-135M, float32, CPU unless a GPU is
found). The untuned base model rarely writes a usable command, so each turn falls back to a
scripted call, as a tuned model would have written it. Every prompt is then replayed on a backend
with reuse turned off; the two must generate the same text. Prints, per call, the prompt tokens,
the tokens each backend encoded (prefill) and the wall time of each.

Run: .venv/bin/python benchmarks/bench_kv_reuse.py [--max-new-tokens 24] [--device cpu]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Any

from machine import report_machine  # benchmarks/machine.py, beside this script

from agent.backends.base import Generation, run_stream
from agent.backends.transformers import TransformersBackend
from agent.models import default_model_path
from moss_core import protocol

# (question, scripted call, layout, value) -- values as the built-in plugins would return them.
TURNS: list[tuple[str, protocol.Call, protocol.Layout, Any]] = [
    ("What is 4/7?", protocol.Call("Calculate", "4/7"), "value", "0.5714285714285714"),
    (
        "Solve x^2 - 5x + 6 = 0",
        protocol.Call("Solve", "x^2-5*x+6=0"),
        "fields",
        {"x_0": 2, "x_1": 3},
    ),
    (
        "Who wrote Pride and Prejudice?",
        protocol.Call("Search", "Pride and Prejudice author"),
        "snippets",
        [
            "Pride and Prejudice is an 1813 novel of manners by Jane Austen.",
            "Jane Austen (1775-1817) was an English novelist known for six major novels.",
        ],
    ),
    ("What is 17% of 2350?", protocol.Call("Calculate", "0.17*2350"), "value", "399.5"),
    (
        "And the square root of that?",
        protocol.Call("Calculate", "sqrt(399.5)"),
        "value",
        "19.987496091306685",
    ),
    (
        "How tall is Mount Everest?",
        protocol.Call("Search", "Mount Everest height"),
        "snippets",
        ["Mount Everest is 8,848.86 m (29,031.7 ft) above sea level, per the 2020 survey."],
    ),
    ("Solve 3y + 7 = 25", protocol.Call("Solve", "3*y+7=25"), "fields", {"y": 6}),
    ("What is 2 to the power 20?", protocol.Call("Calculate", "2**20"), "value", "1048576"),
]


@dataclass
class Call:
    turn: int
    phase: int
    prompt: str
    stop: tuple[str, ...]
    new_text: str  # what this prompt added to the previous call's prompt + output
    reused: Generation
    reused_seconds: float
    fresh: Generation | None = None
    fresh_seconds: float = 0.0


def timed(backend: TransformersBackend, prompt: str, stop: tuple[str, ...], n: int) -> Any:
    started = time.perf_counter()
    gen = run_stream(backend.stream(prompt, stop=stop, max_new_tokens=n))
    return gen, time.perf_counter() - started


def converse(backend: TransformersBackend, n: int) -> list[Call]:
    """The 8 turns, two calls each, exactly as the Agent would make them."""
    calls: list[Call] = []
    history: list[protocol.Exchange] = []
    previous = ""  # the last call's prompt + generated text
    for turn, (human, call, layout, value) in enumerate(TURNS, 1):
        prompt = protocol.render_prompt(protocol.MOSS_META_INSTRUCTION, history, human)
        stop1 = tuple(protocol.PHASE1_STOP)
        gen1, secs1 = timed(backend, prompt, stop1, n)
        calls.append(Call(turn, 1, prompt, stop1, _added(previous, prompt), gen1, secs1))
        phase1 = protocol.parse_phase1(gen1.text)
        commands = phase1.commands if phase1.parsed.calls else call.render()
        results = [protocol.CommandResult(call, value, layout)]
        results_text = protocol.format_results(results)
        prompt2 = prompt + protocol.results_prefix(phase1.thoughts, commands, results_text)
        stop2 = tuple(protocol.PHASE2_STOP)
        previous = prompt + gen1.text
        gen2, secs2 = timed(backend, prompt2, stop2, n)
        calls.append(Call(turn, 2, prompt2, stop2, _added(previous, prompt2), gen2, secs2))
        previous = prompt2 + gen2.text
        reply, _ = protocol.parse_reply(gen2.text)
        history.append(
            protocol.Exchange(human, phase1.thoughts, commands, results_text, reply or "OK.")
        )
    return calls


def _added(before: str, after: str) -> str:
    i = 0
    while i < min(len(before), len(after)) and before[i] == after[i]:
        i += 1
    return after[i:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    report_machine(args.threads)

    started = time.perf_counter()
    backend = TransformersBackend.from_pretrained(default_model_path(), device=args.device)
    print(f"model {backend.name} on {backend.device} ({backend.dtype}), ", end="")
    print(f"loaded in {time.perf_counter() - started:.1f} s")
    run_stream(backend.stream("Hello", stop=[], max_new_tokens=2))  # warm-up
    backend.reset()

    calls = converse(backend, args.max_new_tokens)
    fresh = TransformersBackend(
        backend.model, backend.tokenizer, device=args.device, reuse_cache=False
    )
    for c in calls:
        c.fresh, c.fresh_seconds = timed(fresh, c.prompt, c.stop, args.max_new_tokens)

    head = f"{'turn':>4} {'ph':>2} {'prompt':>6} {'new':>4} | {'prefill':>7} {'secs':>6}"
    print(f"\n{head} | {'fresh prefill':>13} {'secs':>6} | {'speed-up':>8}  same text")
    for c in calls:
        assert c.fresh is not None
        new = backend.count_tokens(c.new_text)
        print(
            f"{c.turn:>4} {c.phase:>2} {c.reused.prompt_tokens:>6} {new:>4} | "
            f"{c.reused.prefill_tokens:>7} {c.reused_seconds:>6.2f} | "
            f"{c.fresh.prefill_tokens:>13} {c.fresh_seconds:>6.2f} | "
            f"{c.fresh_seconds / c.reused_seconds:>7.1f}x  {c.fresh.text == c.reused.text}"
        )
    last = calls[-2]  # the last turn's phase 1: the longest history, a fresh Human line
    print(
        f"\nlast turn, phase 1: prompt {last.reused.prompt_tokens} tokens; prefill "
        f"{last.reused.prefill_tokens} vs {last.fresh.prefill_tokens if last.fresh else 0} "
        f"tokens, {last.reused.prefill_seconds * 1000:.0f} vs "
        f"{(last.fresh.prefill_seconds if last.fresh else 0) * 1000:.0f} ms prefill, "
        f"whole call {last.reused_seconds:.2f} vs {last.fresh_seconds:.2f} s "
        f"({last.fresh_seconds / last.reused_seconds:.1f}x)"
    )
    turn_r = calls[-2].reused_seconds + calls[-1].reused_seconds
    turn_f = calls[-2].fresh_seconds + calls[-1].fresh_seconds
    print(
        f"last turn, both phases: {turn_r:.2f} s with reuse vs {turn_f:.2f} s fresh "
        f"({turn_f / turn_r:.1f}x)"
    )
    phase2 = [c for c in calls if c.phase == 2]
    extra = [c.reused.prefill_tokens - backend.count_tokens(c.new_text) for c in phase2]
    print(f"phase 2 prefill minus tokens of the newly added text, per turn: {extra}")
    total_r = sum(c.reused_seconds for c in calls)
    total_f = sum(c.fresh_seconds for c in calls)
    print(f"all 16 calls: {total_r:.1f} s with reuse, {total_f:.1f} s fresh")


if __name__ == "__main__":
    main()
