"""Training throughput: this pipeline against a naive loop, on the same data, in one run.

- pipeline: ``finetune.train.train`` itself (transformers' Trainer, LoRA on all linear layers,
  length-grouped batches of ``--batch-size``, bf16 autocast where the device supports it);
  tokens/s from the Trainer's own ``train_runtime`` over one epoch.
- naive: the same base model and LoRA, float32, one example per optimizer step, every example
  padded to one fixed length (the longest, rounded up to 64), a plain PyTorch loop.

Both count real (non-padding) tokens, so the ratio is the speed-up a user sees. Optionally it
also times ``--step-batch`` examples of about ``--step-length`` tokens per step, and with
``--head`` compares those steps with the output head on loss positions only (``finetune.loss``,
the pipeline's default) against the head on every position.

Model: the embedded default model (SmolLM2-135M-Instruct) when it is already converted in the
cache, else a tiny random Llama; the first line printed says which.

    python benchmarks/bench_train_throughput.py                  # auto model, 16 examples
    python benchmarks/bench_train_throughput.py --model tiny     # seconds, any machine
    python benchmarks/bench_train_throughput.py --no-ratio --head --step-runs 4  # finetune.loss
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tiny-model builder lives with the tests

from finetune.config import TrainConfig  # noqa: E402
from finetune.data import (  # noqa: E402
    IGNORE_INDEX,
    Conversation,
    build_examples,
    write_conversations,
)
from finetune.train import resolve_bf16, train  # noqa: E402

LORA = {"rank": 16, "alpha": 32, "target_modules": "all-linear"}


def pick_model(choice: str, scratch: Path) -> tuple[str, str]:
    """(model folder, description) for ``auto``, ``default``, ``tiny``, or a model folder or
    ``.gguf`` file."""
    from agent import models

    if choice not in ("auto", "default", "tiny"):
        return models.resolve_model(choice), choice
    folder = models.cache_dir() / "models" / models.MODEL_NAME
    if choice == "default" or (choice == "auto" and models.is_converted(folder)):
        return str(models.default_model_path()), f"{models.MODEL_NAME} (the default model)"
    from tests.test_finetune_data import save_tiny_model

    tiny = save_tiny_model(scratch / "tiny-llama")
    why = "; the default model is not converted" if choice == "auto" else ""
    return str(tiny), f"tiny random Llama (2 layers, 32 wide{why})"


def conversations(n: int) -> tuple[list[Conversation], str]:
    try:
        from finetune.synth import generate

        return list(generate(n, seed=0)), "finetune.synth conversations"
    except ImportError:
        from tests.test_finetune_data import sample_conversations

        return sample_conversations(n), "test sample conversations"


class StepTimer:
    """A Trainer callback that records wall and CPU seconds of each optimizer step.

    CPU seconds (all threads of this process) say what a step costs when the machine is
    shared: wall time then also counts other programs' turns on the cores.
    """

    def __init__(self) -> None:
        self.started = (0.0, 0.0)
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []

    def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
        self.started = (time.perf_counter(), time.process_time())

    def on_step_end(self, *args: Any, **kwargs: Any) -> None:
        self.seconds.append(time.perf_counter() - self.started[0])
        self.cpu_seconds.append(time.process_time() - self.started[1])

    def __getattr__(self, name: str) -> Any:
        # The Trainer calls every on_* hook; the ones not defined above do nothing.
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def run_pipeline(
    model: str,
    convs: list[Conversation],
    batch: int,
    scratch: Path,
    tag: str,
    *,
    max_length: int,
    steps: int = 0,
    checkpointing: bool = False,
    loss_positions_only: bool = True,
) -> tuple[float, StepTimer]:
    """Train one epoch (or ``steps``) through ``finetune.train``; return (runtime, timer)."""
    data = scratch / f"{tag}.jsonl"
    write_conversations(data, convs)
    config = TrainConfig(
        base_model=model,
        data=[str(data)],
        out=str(scratch / f"run-{tag}"),
        batch_size=batch,
        epochs=1,
        max_steps=steps,
        eval_fraction=0,
        save_steps=0,
        logging_steps=1000,
        max_length=max_length,
        gradient_checkpointing=checkpointing,
        loss_positions_only=loss_positions_only,
        **LORA,  # type: ignore[arg-type]
    )
    timer = StepTimer()
    result = train(config, callbacks=[timer])
    return result.metrics["train_runtime"], timer


def run_naive(
    model: str, examples: list[dict[str, list[int]]], pad_id: int, width: int
) -> tuple[float, float]:
    """One example per step, float32, padded to ``width``; return (seconds, CPU seconds)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    lora = LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
    net = get_peft_model(base, lora)
    net.train()
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=2e-4)
    started, cpu = time.perf_counter(), time.process_time()
    for ex in examples:
        n = len(ex["input_ids"])
        ids = torch.full((1, width), pad_id, dtype=torch.long)
        labels = torch.full((1, width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((1, width), dtype=torch.long)
        ids[0, :n] = torch.tensor(ex["input_ids"])
        labels[0, :n] = torch.tensor(ex["labels"])
        mask[0, :n] = 1
        loss = net(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return time.perf_counter() - started, time.process_time() - cpu


def compare(
    args: argparse.Namespace, model: str, tokenizer: Any, scratch: Path, bf16: bool
) -> None:
    """The pipeline and the naive loop on the same conversations; print both and the ratio."""
    convs, source = conversations(args.examples)
    examples = build_examples(tokenizer, convs, max_length=args.max_length)
    if len(examples) != len(convs):
        raise SystemExit(f"some conversations do not fit {args.max_length} tokens at all")
    lengths = [len(e["input_ids"]) for e in examples]
    print(
        f"data: {len(examples)} {source}, {sum(lengths)} tokens, lengths {min(lengths)}.."
        f"{max(lengths)} (median {statistics.median(lengths):.0f})"
    )
    runtime, timer = run_pipeline(
        model,
        convs,
        args.batch_size,
        scratch,
        "pipeline",
        max_length=args.max_length,
        checkpointing=args.gradient_checkpointing,
    )
    pipeline_rate = sum(lengths) / runtime
    print(
        f"pipeline: {len(timer.seconds)} steps of {args.batch_size}, length-grouped, "
        f"{'bf16 autocast' if bf16 else 'fp32'}"
        f"{', gradient checkpointing' if args.gradient_checkpointing else ''}: "
        f"{pipeline_rate:,.1f} tokens/s ({runtime:.1f} s; "
        f"{sum(lengths) / sum(timer.cpu_seconds):,.1f} tokens per CPU-second)"
    )

    naive_set = examples[: args.naive_examples] if args.naive_examples else examples
    width = -(-max(lengths) // 64) * 64
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    seconds, cpu = run_naive(model, naive_set, pad_id, width)
    naive_tokens = sum(len(e["input_ids"]) for e in naive_set)
    naive_rate = naive_tokens / seconds
    print(
        f"naive: {len(naive_set)} steps of 1, fp32, padded to {width}: {naive_rate:,.1f} "
        f"tokens/s ({seconds:.1f} s; {naive_tokens / cpu:,.1f} tokens per CPU-second)"
    )
    print(
        f"ratio: {pipeline_rate / naive_rate:.2f}x tokens/s, "
        f"{(sum(lengths) / sum(timer.cpu_seconds)) / (naive_tokens / cpu):.2f}x per CPU-second"
    )


def step_examples(
    args: argparse.Namespace, tokenizer: Any
) -> tuple[list[Conversation], list[int], int]:
    """``--step-batch`` conversations of about ``--step-length`` tokens, their lengths, and
    how many of their tokens carry loss."""
    pool, _ = conversations(args.step_pool)
    examples = build_examples(tokenizer, pool, max_length=args.max_length)
    if len(examples) != len(pool):
        raise SystemExit(f"some conversations do not fit {args.max_length} tokens at all")
    near = sorted(
        zip(pool, examples, strict=True),
        key=lambda ce: abs(len(ce[1]["input_ids"]) - args.step_length),
    )[: args.step_batch]
    lengths = sorted(len(e["input_ids"]) for _, e in near)
    loss_tokens = sum(sum(1 for x in e["labels"][1:] if x != IGNORE_INDEX) for _, e in near)
    return [c for c, _ in near], lengths, loss_tokens


def step_seconds(
    args: argparse.Namespace,
    model: str,
    picked: list[Conversation],
    scratch: Path,
    tag: str,
    loss_positions_only: bool = True,
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each of ``--step-runs`` steps, without the first (warm-up)."""
    _, timer = run_pipeline(
        model,
        picked,
        args.step_batch,
        scratch,
        tag,
        max_length=args.max_length,
        steps=args.step_runs,
        loss_positions_only=loss_positions_only,
    )
    return timer.seconds[1:] or timer.seconds, timer.cpu_seconds[1:] or timer.cpu_seconds


def time_steps(args: argparse.Namespace, model: str, tokenizer: Any, scratch: Path) -> None:
    """Seconds per optimizer step for ``--step-batch`` examples of about ``--step-length``."""
    picked, lengths, _ = step_examples(args, tokenizer)
    wall, cpu = step_seconds(args, model, picked, scratch, "steps")
    print(
        f"step time: batch {args.step_batch}, lengths {lengths}: "
        f"{statistics.median(wall):.2f} s/step wall, {statistics.median(cpu):.2f} CPU-s/step "
        f"(medians without the first step; wall {', '.join(f'{t:.1f}' for t in wall)})"
    )


def compare_head(args: argparse.Namespace, model: str, tokenizer: Any, scratch: Path) -> None:
    """Step time with the output head on loss positions only (``finetune.loss``) against the
    head on every position (the model's own loss), alternating runs so load hits both alike."""
    picked, lengths, loss_tokens = step_examples(args, tokenizer)
    print(
        f"head: batch {args.step_batch}, lengths {lengths}, {loss_tokens} of "
        f"{sum(lengths)} tokens carry loss ({loss_tokens / sum(lengths):.0%})"
    )
    times: dict[bool, list[float]] = {True: [], False: []}
    cpu_times: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(args.head_rounds):
        for flag in (False, True):
            wall, cpu = step_seconds(args, model, picked, scratch, f"head-{flag}-{round_}", flag)
            times[flag] += wall
            cpu_times[flag] += cpu
    every, only = statistics.median(times[False]), statistics.median(times[True])
    every_cpu, only_cpu = statistics.median(cpu_times[False]), statistics.median(cpu_times[True])
    print(
        f"head everywhere: {every:.2f} s/step ({every_cpu:.2f} CPU-s); on loss positions: "
        f"{only:.2f} s/step ({only_cpu:.2f} CPU-s); ratio {every / only:.2f}x wall, "
        f"{every_cpu / only_cpu:.2f}x per CPU-second (medians of {len(times[True])} steps each)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default="auto", help="auto, default, tiny, or a model folder or .gguf file"
    )
    parser.add_argument("--examples", type=int, default=16, help="conversations per arm")
    parser.add_argument(
        "--naive-examples", type=int, default=8, help="naive arm: the first N only (0: all)"
    )
    parser.add_argument("--batch-size", type=int, default=4, help="as TrainConfig")
    parser.add_argument(
        "--max-length", type=int, default=512, help="longer conversations lose later turns"
    )
    parser.add_argument(
        "--gradient-checkpointing", action="store_true", help="pipeline arm: less memory"
    )
    parser.add_argument("--step-length", type=int, default=180)
    parser.add_argument("--step-batch", type=int, default=8)
    parser.add_argument("--step-runs", type=int, default=0, help="timed steps; 0: skip")
    parser.add_argument("--step-pool", type=int, default=200, help="conversations to pick from")
    parser.add_argument("--no-ratio", action="store_true", help="only time the steps")
    parser.add_argument(
        "--head",
        action="store_true",
        help="time steps with the head on loss positions only vs everywhere (--step-runs each)",
    )
    parser.add_argument("--head-rounds", type=int, default=2, help="--head: alternations")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    scratch = Path(tempfile.mkdtemp(prefix="bench-train-"))
    model, described = pick_model(args.model, scratch)
    tokenizer = AutoTokenizer.from_pretrained(model)
    bf16 = resolve_bf16("auto")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"model: {described}")
    print(
        f"device: {'cuda' if torch.cuda.is_available() else 'cpu'}, torch threads "
        f"{torch.get_num_threads()}, bf16 autocast {'on' if bf16 else 'off (not supported)'}, "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )

    if not args.no_ratio:
        compare(args, model, tokenizer, scratch, bf16)
    if args.step_runs and args.head:
        compare_head(args, model, tokenizer, scratch)
    elif args.step_runs:
        time_steps(args, model, tokenizer, scratch)
    if hasattr(os, "getloadavg"):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux
        print(f"peak memory: {peak:.1f} GB; load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
