"""Generation speed of the default model on the three ways to run it, in one run, per thread count:

- ``LlamaCppBackend``, the project's default engine;
- llama.cpp's own high-level API (``Llama.create_completion``) on the very same GGUF;
- ``TransformersBackend`` (float32) on the same weights, dequantised.

All three decode greedily from the same prompt; prints prefill and decode tokens/s and the
ratios the engine is held to (at least 0.9x llama.cpp's API, at least 3x transformers).

With ``--adapter DIR`` (the shipped one: ``--adapter finetune/adapters/default``) all three run
the model with that LoRA adapter: llama.cpp's API and the engine through the same converted
LoRA file, transformers with it merged.

Run: .venv/bin/python benchmarks/bench_tokens_per_second.py [--tokens 128] [--threads 1 2]
     [--adapter DIR]
"""

from __future__ import annotations

import argparse
import time

from machine import report_machine  # benchmarks/machine.py, beside this script

from agent.backends.base import run_stream
from agent.models import default_gguf_path

PROMPT = (
    "<|im_start|>user\nWrite a long, detailed story about a robot who learns to paint, "
    "with many characters and places.<|im_end|>\n<|im_start|>assistant\n"
)


def decode_rate(completion_tokens: int, decode_seconds: float) -> float:
    return completion_tokens / decode_seconds


def bench_engine(
    tokens: int, threads: int, repeats: int, adapter: str | None
) -> tuple[float, float]:
    from agent.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend.from_gguf(adapter=adapter, n_ctx=2048, n_threads=threads)
    backend.reuse_cache = False  # every run prefills the whole prompt
    run_stream(backend.stream(PROMPT, stop=[], max_new_tokens=4))  # warm-up
    best = (0.0, 0.0)
    for _ in range(repeats):
        gen = run_stream(backend.stream(PROMPT, stop=[], max_new_tokens=tokens))
        best = (
            max(best[0], decode_rate(gen.completion_tokens, gen.decode_seconds)),
            max(best[1], gen.prefill_tokens / gen.prefill_seconds),
        )
    backend.close()
    return best


def bench_llama_api(
    tokens: int, threads: int, repeats: int, adapter: str | None
) -> tuple[float, float]:
    """llama.cpp's own API: time to the first streamed token (prefill) and the rest (decode)."""
    from agent.backends.gguf_lora import lora_gguf
    from agent.backends.llamacpp_load import open_llama

    gguf = default_gguf_path()
    lora = str(lora_gguf(adapter, gguf)) if adapter else None
    llm = open_llama(gguf, n_ctx=2048, n_threads=threads, n_threads_batch=threads, lora_path=lora)
    prompt_tokens = len(llm.tokenize(PROMPT.encode(), add_bos=False, special=True))
    llm.create_completion(PROMPT, max_tokens=4, temperature=0.0)  # warm-up
    best = (0.0, 0.0)
    for _ in range(repeats):
        llm.reset()  # as the engine runs above: the whole prompt is prefilled
        started = time.perf_counter()
        first = None
        count = 0
        for _ in llm.create_completion(PROMPT, max_tokens=tokens, temperature=0.0, stream=True):
            count += 1
            if first is None:
                first = time.perf_counter()
        assert first is not None
        end = time.perf_counter()
        # The first token comes out of the prefill, as in the engine's figures.
        best = (
            max(best[0], decode_rate(count - 1, end - first)),
            max(best[1], prompt_tokens / (first - started)),
        )
    llm.close()
    return best


def bench_transformers(
    tokens: int, threads: int, repeats: int, adapter: str | None
) -> tuple[float, float]:
    import torch

    from agent.backends.transformers import TransformersBackend

    torch.set_num_threads(threads)
    backend = TransformersBackend.from_pretrained(adapter=adapter, device="cpu")
    backend.reuse_cache = False
    run_stream(backend.stream(PROMPT, stop=[], max_new_tokens=4))
    best = (0.0, 0.0)
    for _ in range(repeats):
        gen = run_stream(backend.stream(PROMPT, stop=[], max_new_tokens=tokens))
        best = (
            max(best[0], decode_rate(gen.completion_tokens, gen.decode_seconds)),
            max(best[1], gen.prefill_tokens / gen.prefill_seconds),
        )
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--adapter", help="a PEFT LoRA adapter folder to run the model with")
    args = parser.parse_args()
    report_machine(None)
    print(f"adapter: {args.adapter or 'none'}")
    for threads in args.threads:
        engine = bench_engine(args.tokens, threads, args.repeats, args.adapter)
        api = bench_llama_api(args.tokens, threads, args.repeats, args.adapter)
        hf = bench_transformers(args.tokens, threads, args.repeats, args.adapter)
        print(f"\n{threads} thread(s), best of {args.repeats}, tokens/s (decode / prefill):")
        for name, (d, p) in (("engine", engine), ("llama.cpp API", api), ("transformers", hf)):
            print(f"  {name:<14} {d:7.1f} / {p:6.0f}")
        print(
            f"  engine / llama.cpp API: decode {engine[0] / api[0]:.2f}x; "
            f"engine / transformers: decode {engine[0] / hf[0]:.2f}x, "
            f"prefill {engine[1] / hf[1]:.2f}x"
        )


if __name__ == "__main__":
    main()
