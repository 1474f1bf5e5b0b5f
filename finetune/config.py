"""``TrainConfig``: every knob of ``moss-agent train``, with its help text beside its default.

The command-line flags are generated from the dataclass fields, so ``--help``, the docs and the
code cannot disagree::

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, TrainConfig)
    config = config_from_args(parser.parse_args(["--data", "d.jsonl", "--out", "run"]))
    config_to_argv(config)   # ['--data', 'd.jsonl', '--out', 'run'] (only non-defaults)

Cross-field checks live in ``__post_init__``; their messages name the flag that fixes them.
Pure Python: nothing heavy is imported here.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from moss_core.errors import MossAgentError

BF16_CHOICES = ("auto", "on", "off")
META_CHOICES = ("data", "moss", "short")

T = TypeVar("T")


class TrainConfigError(MossAgentError, ValueError):
    """A training configuration that cannot work; the message names the flag that fixes it."""


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass
class TrainConfig:
    """How to fine-tune a causal LM with LoRA on MOSS-format conversations.

    >>> TrainConfig(data=["convs.jsonl"], out="runs/a").rank
    16
    """

    data: list[str] = field(
        metadata=_help(
            "Training data: MOSS JSON files, MOSS or moss-agent JSONL files, or folders of them "
            "(searched recursively)."
        )
    )
    out: str = field(
        metadata=_help("Output folder: checkpoints, then the adapter and moss_agent.json.")
    )
    base_model: str | None = field(
        default=None,
        metadata=_help(
            "Base model: a Hugging Face folder or hub id, or a .gguf file (converted once). "
            "Default: the embedded SmolLM2-135M-Instruct (agent.models.default_model_path())."
        ),
    )
    meta_instruction: str = field(
        default="data",
        metadata=_help(
            "System text to train with: 'data' keeps each conversation's own; 'moss' or 'short' "
            "rebuild it with that moss_core.protocol preset from the tools the conversation lists.",
            choices=META_CHOICES,
        ),
    )
    rank: int = field(default=16, metadata=_help("LoRA rank r of the update matrices."))
    alpha: int = field(default=32, metadata=_help("LoRA alpha; the update is scaled by alpha/r."))
    dropout: float = field(default=0.05, metadata=_help("Dropout on the LoRA input, in [0, 1)."))
    target_modules: str = field(
        default="all-linear",
        metadata=_help(
            "Modules that get LoRA: 'all-linear' (every linear layer but the output head) or a "
            "comma-separated list of module names such as 'q_proj,v_proj'."
        ),
    )
    top_layers: int = field(
        default=0,
        metadata=_help(
            "LoRA only in the last N transformer layers; 0: every layer. The backward pass then "
            "stops N layers below the output, which roughly halves a CPU step for N = a third "
            "of the layers."
        ),
    )
    init_adapter: str | None = field(
        default=None,
        metadata=_help(
            "Start from this adapter's LoRA weights instead of fresh ones: a second stage of "
            "training, on new data or with a new learning-rate schedule; `default` is the "
            "adapter moss-agent ships. Its rank, alpha, target modules and layers must match "
            "the flags; its dropout is kept."
        ),
    )
    learning_rate: float = field(default=2e-4, metadata=_help("Peak learning rate (AdamW)."))
    epochs: float = field(default=1.0, metadata=_help("Passes over the training data."))
    max_steps: int = field(
        default=0,
        metadata=_help("Stop after this many optimizer steps; overrides epochs when > 0."),
    )
    batch_size: int = field(
        default=4,
        metadata=_help(
            "Examples per device in each accumulated batch. On a CPU they run one row at a "
            "time (--micro-batch-size), so memory follows the row length, not the batch: "
            "SmolLM2-135M at 8 x 448 tokens peaks at 3.5 GB (9.5 GB in one pass)."
        ),
    )
    micro_batch_size: int = field(
        default=0,
        metadata=_help(
            "Rows per forward pass: each batch runs in micro-batches of this many rows whose "
            "gradients add up to the batch's (the same update, finetune.micro). Memory grows "
            "with it, step time hardly. 0: 1 on a CPU, the whole batch on a GPU."
        ),
    )
    grad_accum: int = field(
        default=2,
        metadata=_help(
            "Forward passes accumulated into one optimizer step (the effective batch is "
            "batch_size x grad_accum x devices)."
        ),
    )
    max_length: int = field(
        default=1024,
        metadata=_help(
            "Longest example in tokens. Longer conversations lose their later turns; a first "
            "turn that alone is too long is cut."
        ),
    )
    eval_fraction: float = field(
        default=0.05,
        metadata=_help("Share of conversations held out for eval loss, in [0, 1); 0: no eval."),
    )
    eval_steps: int = field(
        default=100,
        metadata=_help("Compute eval loss every this many steps; 0: only at the end."),
    )
    save_steps: int = field(
        default=200, metadata=_help("Write a checkpoint every this many steps; 0: none.")
    )
    save_total_limit: int = field(
        default=2, metadata=_help("Checkpoints kept in out (older ones are deleted); 0: all.")
    )
    logging_steps: int = field(default=10, metadata=_help("Log the training loss every N steps."))
    seed: int = field(
        default=42, metadata=_help("Seed for the eval split, shuffling and LoRA init.")
    )
    bf16: str = field(
        default="auto",
        metadata=_help(
            "bfloat16 autocast: 'auto' uses it where the device supports it (on CPU: AVX512-BF16 "
            "or AMX), 'on' forces it, 'off' trains in float32.",
            choices=BF16_CHOICES,
        ),
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata=_help(
            "Recompute activations during the backward pass: about a third slower, but memory "
            "no longer grows with layers x batch x length (long examples, small machines)."
        ),
    )
    group_by_length: bool = field(
        default=True,
        metadata=_help("Batch examples of similar length together, so padding wastes little."),
    )
    loss_positions_only: bool = field(
        default=True,
        metadata=_help(
            "Run the output head only on positions whose next token carries loss (not the "
            "meta-instruction, Human text, results or padding): the same loss and gradients, "
            "in less time and memory (finetune.loss). --no-loss-positions-only computes "
            "logits everywhere, as the model's own loss does."
        ),
    )
    trim_memory: bool = field(
        default=True,
        metadata=_help(
            "Hand the C library's (glibc) free heap pages back to the system after every "
            "optimizer step, so a long run's resident memory stays near its first steps' "
            "instead of growing with every new batch shape (finetune.memory)."
        ),
    )
    return_freed_memory: bool = field(
        default=False,
        metadata=_help(
            "Have the C library (glibc) map large blocks and unmap them when freed, so the "
            "process returns each step's activations instead of keeping a heap that grows "
            "with every new batch shape: a lower peak (6.8 against 9.9 GB over 10 steps of the "
            "default model at batch 8) for about twice the step time (finetune.memory)."
        ),
    )
    resume: bool = field(
        default=False,
        metadata=_help("Continue from the last checkpoint in out (a fresh start if none)."),
    )

    def __post_init__(self) -> None:
        if isinstance(self.data, str):
            self.data = [self.data]
        problems = [message for ok, message in self._checks() if not ok]
        if problems:
            raise TrainConfigError("Invalid training configuration: " + " ".join(problems))

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (bool(self.data), "data is empty: pass --data with at least one file or folder."),
            (bool(self.out), "out is empty: pass --out with the folder to write the adapter to."),
            (self.rank > 0, f"rank={self.rank}: set --rank to a positive integer such as 16."),
            (self.alpha > 0, f"alpha={self.alpha}: set --alpha > 0 (commonly 2 * rank)."),
            (0 <= self.dropout < 1, f"dropout={self.dropout}: set --dropout in [0, 1)."),
            (bool(self.target_modules.strip()), "target_modules is empty: use 'all-linear'."),
            (self.learning_rate > 0, "learning_rate must be > 0: set --learning-rate 2e-4."),
            (self.top_layers >= 0, "top_layers < 0: use 0 for every layer."),
            (
                self.epochs > 0 or self.max_steps > 0,
                "nothing to train: set --epochs > 0 or --max-steps > 0.",
            ),
            (self.max_steps >= 0, "max_steps < 0: use 0 to train for --epochs instead."),
            (self.batch_size >= 1, f"batch_size={self.batch_size}: set --batch-size >= 1."),
            (
                self.micro_batch_size >= 0,
                f"micro_batch_size={self.micro_batch_size}: set --micro-batch-size >= 0 "
                "(0: chosen for the device).",
            ),
            (self.grad_accum >= 1, f"grad_accum={self.grad_accum}: set --grad-accum >= 1."),
            (self.max_length >= 16, f"max_length={self.max_length}: set --max-length >= 16."),
            (
                0 <= self.eval_fraction < 1,
                f"eval_fraction={self.eval_fraction}: set --eval-fraction in [0, 1).",
            ),
            (self.eval_steps >= 0, "eval_steps < 0: use 0 to evaluate only at the end."),
            (self.save_steps >= 0, "save_steps < 0: use 0 to write no checkpoints."),
            (self.save_total_limit >= 0, "save_total_limit < 0: use 0 to keep all checkpoints."),
            (self.logging_steps >= 1, "logging_steps must be >= 1."),
            (self.bf16 in BF16_CHOICES, f"bf16={self.bf16!r}: use one of {BF16_CHOICES}."),
            (
                self.meta_instruction in META_CHOICES,
                f"meta_instruction={self.meta_instruction!r}: use one of {META_CHOICES}.",
            ),
            (
                not (self.resume and self.save_steps == 0),
                "resume needs checkpoints: set --save-steps > 0 or drop --resume.",
            ),
        ]

    @property
    def target_module_list(self) -> str | list[str]:
        """What peft's ``LoraConfig(target_modules=...)`` takes: the keyword or a list of names."""
        value = self.target_modules.strip()
        if value == "all-linear":
            return value
        return [name.strip() for name in value.split(",") if name.strip()]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# Dataclass <-> argparse
# ---------------------------------------------------------------------------------------------


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser, cls: type[Any] = TrainConfig) -> None:
    """Add one flag per dataclass field, its help text taken from the field's metadata.

    >>> p = argparse.ArgumentParser()
    >>> add_config_arguments(p)
    >>> p.parse_args(["--data", "a", "b", "--out", "o", "--no-group-by-length"]).group_by_length
    False
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        help_text = f.metadata.get("help", "")
        kwargs: dict[str, Any] = {"dest": f.name, "help": help_text}
        default = _default(f)
        if default is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
            if kind is not bool:
                kwargs["help"] = f"{help_text} (default: {default})"
        if "choices" in f.metadata:
            kwargs["choices"] = f.metadata["choices"]
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(kind) is list:
            kwargs["nargs"] = "+"
            kwargs["type"] = typing.get_args(kind)[0]
        else:
            kwargs["type"] = _scalar_type(kind)
        parser.add_argument(_flag(f.name), **kwargs)


def _default(f: dataclasses.Field[Any]) -> Any:
    """The field's default value, or ``dataclasses.MISSING`` for a required field."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _scalar_type(kind: Any) -> Any:
    # ``str | None`` and friends: the flag takes the non-None member.
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return args[0] if args else kind


def config_from_args(args: argparse.Namespace, cls: type[T] = TrainConfig) -> T:  # type: ignore[assignment]
    """Build the dataclass back from parsed flags (extra attributes on ``args`` are ignored)."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: getattr(args, name) for name in names if hasattr(args, name)})


def config_to_argv(config: Any) -> list[str]:
    """The flags that rebuild ``config``: only fields that differ from their defaults.

    Useful to hand the same run to ``accelerate launch -m finetune.train ...``.

    >>> config_to_argv(TrainConfig(data=["d.jsonl"], out="o", rank=8))
    ['--data', 'd.jsonl', '--out', 'o', '--rank', '8']
    """
    argv: list[str] = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        default = _default(f)
        if default is not dataclasses.MISSING and value == default:
            continue
        if isinstance(value, bool):
            argv.append(_flag(f.name) if value else "--no-" + f.name.replace("_", "-"))
        elif isinstance(value, list):
            argv += [_flag(f.name), *map(str, value)]
        elif value is not None:
            argv += [_flag(f.name), str(value)]
    return argv
