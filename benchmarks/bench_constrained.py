"""What holding phase 1 to its grammar costs, per token, on the default engine.

The shipped adapter writes phase 1 (thoughts and Commands line) for held-out questions twice on
``LlamaCppBackend``: freely, and held to the phase-1 grammar of the three built-in tools
(``agent.grammar``). Runs alternate, and each prefills its whole prompt, so both see the same
machine. Prints decode tokens/s of each, their ratio, and the grammar's own time per token
(computing the mask and consuming the token, measured apart), which is what constrained
decoding adds to a token whatever the machine's speed. Also counts lines that differ.

Run: .venv/bin/python benchmarks/bench_constrained.py [--cases 40] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

from machine import report_machine  # benchmarks/machine.py, beside this script

from agent.backends.base import run_stream
from agent.backends.constrain import Constraint
from agent.grammar import phase1_grammar
from agent.shipped import ADAPTER_DIR
from finetune.evaluate import read_cases
from moss_core import protocol
from plugins import default_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    report_machine(None)

    from agent.backends.llamacpp import LlamaCppBackend
    from agent.loop import Agent

    backend = LlamaCppBackend.from_gguf(adapter=ADAPTER_DIR, n_ctx=2048, n_threads=args.threads)
    backend.reuse_cache = False
    meta = Agent.default().meta_instruction
    grammar = phase1_grammar(default_registry().enabled(), 4)
    cases = read_cases("finetune/assets/eval_cases.jsonl")[: args.cases]
    prompts = [protocol.render_prompt(meta, [], c.query) for c in cases]
    run_stream(backend.stream(prompts[0], stop=protocol.PHASE1_STOP, max_new_tokens=8))  # warm

    rates: dict[str, list[float]] = {"free": [], "grammar": []}
    differ = 0
    for prompt in prompts:
        texts = {}
        for name, g in (("free", None), ("grammar", grammar)):
            gen = run_stream(
                backend.stream(prompt, stop=protocol.PHASE1_STOP, max_new_tokens=160, grammar=g)
            )
            rates[name].append(gen.completion_tokens / gen.decode_seconds)
            texts[name] = gen.text
        differ += texts["free"] != texts["grammar"]

    # The grammar's own work per token: replay the constrained texts through a fresh matcher.
    vocab = backend._grammars.vocabulary()  # read by the constrained runs above
    mask_seconds, tokens = 0.0, 0
    for prompt in prompts[:10]:
        gen = run_stream(
            backend.stream(prompt, stop=protocol.PHASE1_STOP, max_new_tokens=160, grammar=grammar)
        )
        ids = backend.llm.tokenize((gen.text + (gen.stop or "")).encode(), add_bos=False)
        c = Constraint(vocab, grammar)
        logits = backend._np.zeros(backend._n_vocab, dtype="float32")
        started = time.perf_counter()
        for t in ids:
            c.mask(logits)
            c.advance(t)
        mask_seconds += time.perf_counter() - started
        tokens += len(ids)

    free, held = statistics.median(rates["free"]), statistics.median(rates["grammar"])
    print(f"cases: {len(prompts)}, threads: {args.threads}")
    print(f"decode tokens/s, median: free {free:.1f}, grammar {held:.1f} (ratio {held / free:.2f})")
    print(f"grammar work per token: {1e6 * mask_seconds / tokens:.0f} us over {tokens} tokens")
    print(f"phase-1 texts that differ: {differ} of {len(prompts)}")


if __name__ == "__main__":
    main()
