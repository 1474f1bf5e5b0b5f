"""Generation speed of the default model: TransformersBackend (float32) and, when the
``llama_cpp`` package is importable, llama.cpp on the very same GGUF, in one run.

Both decode greedily from the same prompt for the same number of tokens; prints tokens/s for
prefill and decode and the llama.cpp / transformers ratio.

Run: .venv/bin/python benchmarks/bench_tokens_per_second.py [--tokens 128] [--device cpu]
"""

from __future__ import annotations

import argparse
import importlib.util
import time

from machine import report_machine  # benchmarks/machine.py, beside this script

from agent.backends.base import run_stream
from agent.backends.transformers import TransformersBackend
from agent.models import default_gguf_path, default_model_path

PROMPT = (
    "<|im_start|>user\nWrite a long, detailed story about a robot who learns to paint, "
    "with many characters and places.<|im_end|>\n<|im_start|>assistant\n"
)


def bench_transformers(tokens: int, device: str, repeats: int) -> tuple[float, float]:
    started = time.perf_counter()
    backend = TransformersBackend.from_pretrained(default_model_path(), device=device)
    print(f"transformers: {backend.name} on {backend.device} ({backend.dtype}), ", end="")
    print(f"loaded in {time.perf_counter() - started:.1f} s")
    backend.reuse_cache = False  # every run prefills the whole prompt
    backend.eos_token_ids = frozenset()  # decode exactly `tokens` tokens
    run_stream(backend.stream(PROMPT, stop=[], max_new_tokens=4))  # warm-up
    best = (0.0, 0.0)
    for _ in range(repeats):
        gen = run_stream(backend.stream(PROMPT, stop=[], max_new_tokens=tokens))
        prefill = gen.prefill_tokens / gen.prefill_seconds
        decode = (gen.completion_tokens - 1) / gen.decode_seconds  # the first came from prefill
        best = (max(best[0], decode), max(best[1], prefill))
        print(
            f"  {gen.prefill_tokens} prompt tokens in {gen.prefill_seconds * 1000:.0f} ms, "
            f"{gen.completion_tokens} new tokens in {gen.decode_seconds:.2f} s"
        )
    return best


def bench_llama_cpp(tokens: int, repeats: int) -> tuple[float, float] | None:
    if importlib.util.find_spec("llama_cpp") is None:
        print("llama.cpp: the llama_cpp package is not installed (pip install llama-cpp-python)")
        return None
    from llama_cpp import Llama

    gguf = default_gguf_path()
    import torch

    threads = torch.get_num_threads()  # the same number of threads as the transformers run
    llm = Llama(model_path=str(gguf), n_ctx=2048, n_threads=threads, verbose=False, seed=0)
    print(f"llama.cpp: {gguf.name}, {threads} threads")
    prompt_ids = llm.tokenize(PROMPT.encode(), add_bos=False, special=True)
    llm.eval(prompt_ids)  # warm-up: the first evaluation also sets up ggml's buffers
    best = (0.0, 0.0)
    for _ in range(repeats):
        llm.reset()
        started = time.perf_counter()
        llm.eval(prompt_ids)
        prefill_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(tokens):
            token = llm.sample(temp=0.0)
            llm.eval([token])  # no EOS check: decode exactly `tokens` tokens
        decode_seconds = time.perf_counter() - started
        prefill = len(prompt_ids) / prefill_seconds
        best = (max(best[0], tokens / decode_seconds), max(best[1], prefill))
        print(
            f"  {len(prompt_ids)} prompt tokens in {prefill_seconds * 1000:.0f} ms, "
            f"{tokens} new tokens in {decode_seconds:.2f} s"
        )
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    report_machine(args.threads)

    hf = bench_transformers(args.tokens, args.device, args.repeats)
    print(f"transformers: decode {hf[0]:.1f} tokens/s, prefill {hf[1]:.0f} tokens/s (best of each)")
    cpp = bench_llama_cpp(args.tokens, args.repeats)
    if cpp is not None:
        print(f"llama.cpp:    decode {cpp[0]:.1f} tokens/s, prefill {cpp[1]:.0f} tokens/s")
        ratio = f"decode {cpp[0] / hf[0]:.2f}x, prefill {cpp[1] / hf[1]:.2f}x"
        print(f"llama.cpp / transformers: {ratio}")


if __name__ == "__main__":
    main()
