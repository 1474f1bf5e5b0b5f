"""Decoding with the shipped adapter folded into the weights (what TransformersBackend does) vs.
kept as separate LoRA layers (peft's default), in one run.

Both decode greedily from the same prompt for the same number of tokens, alternating runs so
that a busy machine slows both alike; prints tokens/s for each (best of the repeats), the
ratio, and whether the two decoded the same text.

Run: .venv/bin/python benchmarks/bench_adapter_merge.py [--tokens 64] [--threads 1]
"""

from __future__ import annotations

import argparse

from machine import report_machine  # benchmarks/machine.py, beside this script

from agent.backends.base import run_stream
from agent.backends.transformers import TransformersBackend
from agent.models import default_model_path
from agent.shipped import ADAPTER_DIR

PROMPT = (
    "<|Human|>: A train covers 318 km in 4.5 hours. What is its average speed?<eoh>\n"
    "<|Inner Thoughts|>:"
)


def backends() -> dict[str, TransformersBackend]:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = TransformersBackend.from_pretrained(adapter=ADAPTER_DIR, device="cpu")
    path = str(default_model_path())
    base = AutoModelForCausalLM.from_pretrained(path, dtype="float32")
    layered = PeftModel.from_pretrained(base, str(ADAPTER_DIR))  # not merged
    separate = TransformersBackend(layered, AutoTokenizer.from_pretrained(path), device="cpu")
    return {"merged": merged, "separate LoRA": separate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    report_machine(args.threads)

    runs = backends()
    best = dict.fromkeys(runs, 0.0)
    texts: dict[str, str] = {}
    for backend in runs.values():
        backend.reuse_cache = False  # every run prefills the whole prompt
        backend.eos_token_ids = frozenset()  # decode exactly `tokens` tokens
        run_stream(backend.stream(PROMPT, stop=[], max_new_tokens=4))  # warm-up
    for _ in range(args.repeats):
        for name, backend in runs.items():
            gen = run_stream(backend.stream(PROMPT, stop=[], max_new_tokens=args.tokens))
            rate = (gen.completion_tokens - 1) / gen.decode_seconds  # first token: prefill
            best[name] = max(best[name], rate)
            texts[name] = gen.text
            print(f"  {name}: {gen.completion_tokens} tokens, {rate:.1f} tokens/s")
    for name, rate in best.items():
        print(f"{name}: decode {rate:.1f} tokens/s (best of {args.repeats})")
    print(f"merged / separate: {best['merged'] / best['separate LoRA']:.2f}x")
    print(f"same text: {texts['merged'] == texts['separate LoRA']}")


if __name__ == "__main__":
    main()
