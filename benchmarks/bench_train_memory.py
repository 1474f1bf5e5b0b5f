"""Peak resident memory and step time of a LoRA training stage, for several settings, in one run.

The configuration a plugin author would run on a laptop: the default model (SmolLM2-135M),
LoRA on every linear layer, batch 8, ``--max-length 448``, on the longest conversations of a
mix like the default adapter's last stage (GSM8K word problems from ``../shared/benchmarks``
when present, and synthetic turns). Each setting trains ``--steps`` steps in a fresh child
process (length-grouped batches put the longest batch first, so the peak comes early); the
parent reads the child's peak resident set size from the kernel (``wait4``) and the child
reports its median step time.

    python benchmarks/bench_train_memory.py                 # every setting, 12 steps each
    python benchmarks/bench_train_memory.py --only whole-batch,default
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GSM8K = ROOT.parent / "shared" / "benchmarks" / "gsm8k_train.jsonl"

# name -> (TrainConfig overrides, environment overrides, what it changes)
WHOLE = {"micro_batch_size": 8, "trim_memory": False}  # how `moss-agent train` ran before
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, str], str]] = {
    "whole-batch": (WHOLE, {}, "each batch of 8 in one forward pass, glibc's own settings"),
    "default": ({}, {}, "as `moss-agent train` runs on a CPU: one row a pass, heap trimmed"),
    "micro-2": ({"micro_batch_size": 2}, {}, "micro-batches of 2 rows, heap trimmed"),
    "micro-2-untrimmed": (
        {"micro_batch_size": 2, "trim_memory": False},
        {},
        "micro-batches of 2 rows, heap not trimmed",
    ),
    "micro-4": ({"micro_batch_size": 4}, {}, "micro-batches of 4 rows, heap trimmed"),
    "trim": ({**WHOLE, "trim_memory": True}, {}, "whole batches, heap trimmed every step"),
    "return-freed": (
        {**WHOLE, "return_freed_memory": True},
        {},
        "whole batches, --return-freed-memory: blocks of 1 MiB and more mapped",
    ),
    "checkpointing": (
        {**WHOLE, "gradient_checkpointing": True},
        {},
        "whole batches, activations recomputed in the backward pass",
    ),
    "no-head-trim": (
        {**WHOLE, "loss_positions_only": False},
        {},
        "whole batches, the output head on every position (what finetune.loss avoids)",
    ),
}


def data_file(scratch: Path) -> tuple[Path, str]:
    from finetune.data import write_conversations
    from finetune.synth.generate import iter_conversations, parse_mix

    path = scratch / "mix.jsonl"
    stories: list[Any] = []
    if GSM8K.exists():
        from finetune.synth.stories import load_file

        stories = load_file(GSM8K, "train", max_steps=3).samples
    mix = "story=0.55" if stories else ""
    convs = list(iter_conversations(160, 0, "train", parse_mix(mix) if mix else None, stories))
    write_conversations(path, convs)
    what = "GSM8K word problems and synthetic turns" if stories else "synthetic turns"
    return path, f"{len(convs)} conversations ({what})"


def child(setting: str, data: str, steps: int, out: str) -> None:
    from finetune.config import TrainConfig
    from finetune.train import train

    overrides = SETTINGS[setting][0]
    times: list[float] = []

    class Timer:
        started = 0.0

        def on_step_begin(self, *a: Any, **k: Any) -> None:
            self.started = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            times.append(time.perf_counter() - self.started)

        def __getattr__(self, name: str) -> Any:
            if name.startswith("on_"):
                return lambda *a, **k: None
            raise AttributeError(name)

    values: dict[str, Any] = dict(
        data=[data],
        out=out,
        target_modules="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
        batch_size=8,
        max_length=448,
        max_steps=steps,
        eval_fraction=0,
        save_steps=0,
        logging_steps=1000,
    )
    values.update(overrides)
    train(TrainConfig(**values), callbacks=[Timer()])
    print("STEPS " + json.dumps(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--only", default="", help="comma-separated settings")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.steps, args.out)
        return 0

    from benchmarks.machine import report_machine

    report_machine(None)
    names = [n for n in args.only.split(",") if n] or list(SETTINGS)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        data, what = data_file(scratch)
        print(f"SmolLM2-135M, LoRA r16 on every linear layer, batch 8, max length 448; {what}")
        print("| setting | peak RSS | median s/step | what it changes |\n|---|---|---|---|")
        for name in names:
            _, env, about = SETTINGS[name]
            command = [sys.executable, __file__, "--child", name, "--data", str(data)]
            command += ["--steps", str(args.steps), "--out", str(scratch / f"run-{name}")]
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                env={**os.environ, **env},
            )  # fmt: skip
            assert proc.stdout is not None
            output = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            steps = [
                json.loads(line[6:]) for line in output.splitlines() if line.startswith("STEPS ")
            ]
            if proc.returncode or not steps:
                print(f"| {name} | failed (exit {proc.returncode}) | | {about} |")
                continue
            peak_gb = usage.ru_maxrss / 1024 / 1024  # kilobytes on Linux
            step = statistics.median(steps[0])
            print(f"| {name} | {peak_gb:.2f} GB | {step:.2f} | {about} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
