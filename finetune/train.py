"""LoRA fine-tuning of any causal LM on MOSS-format conversations.

Built on transformers' ``Trainer``, so the same command runs on one CPU, one GPU, or many
through ``accelerate launch -m finetune.train ...`` / ``torchrun`` / DeepSpeed, unchanged::

    moss-agent train --data ../shared/moss_samples synth.jsonl --out runs/a --max-steps 200

    from finetune.config import TrainConfig
    from finetune.train import train
    result = train(TrainConfig(data=["synth.jsonl"], out="runs/a"))
    result.eval_loss

``out`` receives checkpoints while training (``checkpoint-N/``; ``resume=True`` continues from
the last one), then the adapter (``adapter_model.safetensors`` + ``adapter_config.json``; no
tokenizer: the base model's is used) and ``moss_agent.json``: the meta-instruction the adapter
was trained with, the ``TrainConfig``, the data report and the final metrics.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from agent.shipped import adapter_folder
from finetune.config import (
    TrainConfig,
    TrainConfigError,
    add_config_arguments,
    config_from_args,
)
from finetune.data import (
    IGNORE_INDEX,
    Conversation,
    LoadReport,
    PadCollator,
    atomic_text_file,
    build_examples,
    load_conversations,
    rebuild_meta_instruction,
)
from finetune.loss import LossPositions, selected_loss
from finetune.micro import micro_batch_trainer, resolve_rows
from moss_core.errors import ConversationError, MossAgentError

log = logging.getLogger(__name__)

ADAPTER_INFO = "moss_agent.json"
INFO_FORMAT = "moss-agent/adapter"
INFO_VERSION = 1
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")

Example = dict[str, list[int]]


@dataclass
class TrainResult:
    """What a run produced: where the adapter is, how far it got and how well."""

    out: Path
    steps: int
    train_loss: float | None
    eval_loss: float | None
    train_examples: int
    eval_examples: int
    trained_tokens: int  # tokens that carry loss, per epoch
    seconds: float
    report: LoadReport
    resumed_from: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    # One fingerprint of the trained LoRA weights per process of a distributed run (rank
    # order; empty when a single process trained): equal fingerprints show that every replica
    # ended with the same weights.
    replicas: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------


def resolve_bf16(setting: str) -> bool:
    """Whether to train with bfloat16 autocast: ``auto`` asks the device.

    On CPU, bf16 pays only with native support (AVX512-BF16 or AMX); emulated it is slower
    than float32, so ``auto`` leaves it off there.

    >>> resolve_bf16("off")
    False
    """
    if setting in ("on", "off"):
        return setting == "on"
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def last_checkpoint(out: str | Path) -> Path | None:
    """The checkpoint with the highest step in ``out``, or ``None``."""
    folder = Path(out)
    found = [
        (int(m.group(1)), p)
        for p in (folder.iterdir() if folder.is_dir() else [])
        if (m := _CHECKPOINT.match(p.name)) and p.is_dir()
    ]
    return max(found)[1] if found else None


def check_checkpoint_matches(checkpoint: Path, config: TrainConfig) -> None:
    """Refuse to resume with LoRA settings other than the checkpoint's (shapes would clash)."""
    check_lora_matches(
        checkpoint,
        config,
        "resume with {flag} {saved}, or start a new run in an empty --out folder",
    )


def check_lora_matches(folder: Path, config: TrainConfig, fix: str) -> None:
    """Raise unless ``config``'s LoRA shape is the one saved in ``folder``'s adapter_config.json.

    ``fix`` is the advice, formatted with the ``flag`` and the ``saved`` value.
    """
    try:
        saved = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # not a peft folder we can read; peft or the Trainer will say what is wrong
    layers = saved.get("layers_to_transform")
    saved_top = len(layers) if isinstance(layers, list) and layers else 0
    top = config.top_layers
    if saved_top and min(layers) == 0 and (top == 0 or top >= saved_top):
        top = saved_top  # --top-layers at or above the layer count, or 0: every layer either way
    wanted: list[tuple[str, Any, Any]] = [
        ("--rank", config.rank, saved.get("r", config.rank)),
        ("--alpha", config.alpha, saved.get("lora_alpha", config.alpha)),
        ("--top-layers", top, saved_top),
    ]
    targets, saved_targets = config.target_module_list, saved.get("target_modules")
    if targets != "all-linear" and isinstance(saved_targets, list):
        wanted.append(("--target-modules", sorted(targets), sorted(saved_targets)))

    def shown(value: Any) -> str:
        return ",".join(value) if isinstance(value, list) else str(value)

    for flag, value, saved_value in wanted:
        if value != saved_value:
            raise MossAgentError(
                f"{folder} was trained with {flag} {shown(saved_value)}, not {shown(value)}: "
                + fix.format(flag=flag, saved=shown(saved_value))
                + "."
            )


def init_adapter_folder(config: TrainConfig) -> Path | None:
    """The folder ``--init-adapter`` names; ``default`` is the shipped adapter, wherever the
    package is installed (unless a folder called ``default`` is where the command runs)."""
    return adapter_folder(config.init_adapter) if config.init_adapter else None


def _check_init_adapter(config: TrainConfig) -> Path | None:
    folder = init_adapter_folder(config)
    if folder is None:
        return None
    if not (folder / "adapter_config.json").is_file():
        raise MossAgentError(
            f"--init-adapter {folder} holds no adapter_config.json: pass the folder an earlier "
            "`moss-agent train --out` wrote, or `default` for the adapter moss-agent ships."
        )
    if folder.resolve() == Path(config.out).resolve():
        raise MossAgentError(
            f"--init-adapter and --out are both {folder}: write the new stage to another --out."
        )
    check_lora_matches(folder, config, "pass {flag} {saved} to continue its weights")
    return folder


def split_conversations(
    conversations: Sequence[Conversation], fraction: float, seed: int
) -> tuple[list[Conversation], list[Conversation]]:
    """Hold out ``fraction`` of the conversations (at least one, never all) for eval loss.

    Splitting conversations rather than examples keeps every turn of one held-out dialogue
    out of training.

    >>> train_set, eval_set = split_conversations([Conversation("", [])] * 10, 0.2, seed=0)
    >>> len(train_set), len(eval_set)
    (8, 2)
    """
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    n_eval = 0
    if fraction > 0 and len(conversations) >= 2:
        n_eval = min(max(1, round(fraction * len(conversations))), len(conversations) - 1)
    held = set(order[:n_eval])
    train_set = [c for i, c in enumerate(conversations) if i not in held]
    eval_set = [c for i, c in enumerate(conversations) if i in held]
    return train_set, eval_set


def prepare_data(
    config: TrainConfig, tokenizer: Any
) -> tuple[list[Example], list[Example], Counter[str], LoadReport]:
    """Load, re-head (``meta_instruction`` preset), split and encode the training data."""
    conversations, report = load_conversations(config.data)
    if config.meta_instruction != "data":
        preset = config.meta_instruction
        conversations = [
            Conversation(rebuild_meta_instruction(c.meta_instruction, preset), c.exchanges)  # type: ignore[arg-type]
            for c in conversations
        ]
    metas = Counter(c.meta_instruction for c in conversations)
    train_set, eval_set = split_conversations(conversations, config.eval_fraction, config.seed)
    train_examples = build_examples(tokenizer, train_set, config.max_length, report)
    eval_examples = build_examples(tokenizer, eval_set, config.max_length, report)
    if not train_examples:
        raise ConversationError(
            f"No usable training conversations in {config.data} ({report.summary()}). "
            f"First problems: {report.samples[:3]}. Fix the data or raise --max-length."
        )
    return train_examples, eval_examples, metas, report


def _training_arguments(config: TrainConfig, has_eval: bool) -> Any:
    import inspect

    from transformers import TrainingArguments

    bf16 = resolve_bf16(config.bf16)
    accelerated = _accelerated()
    periodic_eval = has_eval and config.eval_steps > 0
    kwargs: dict[str, Any] = dict(
        output_dir=config.out,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps if config.max_steps > 0 else -1,
        logging_steps=config.logging_steps,
        eval_strategy="steps" if periodic_eval else "no",
        eval_steps=config.eval_steps if periodic_eval else None,
        save_strategy="steps" if config.save_steps > 0 else "no",
        save_steps=config.save_steps if config.save_steps > 0 else 500,
        save_total_limit=config.save_total_limit or None,
        seed=config.seed,
        bf16=bf16,
        report_to="none",
        remove_unused_columns=False,  # the collator's keys are exactly what the model takes
        dataloader_pin_memory=accelerated,
    )
    if bf16 and not accelerated:
        kwargs["use_cpu"] = True  # transformers' spelling for "bf16 autocast on the CPU"
    # transformers 5 renamed these two; take whichever spelling this version has.
    params = inspect.signature(TrainingArguments.__init__).parameters
    if config.gradient_checkpointing:
        name = "activation" if "activation_checkpointing" in params else "gradient"
        kwargs[f"{name}_checkpointing"] = True
        # Non-reentrant checkpointing works with frozen embeddings (no input grads needed).
        kwargs[f"{name}_checkpointing_kwargs"] = {"use_reentrant": False}
    if "train_sampling_strategy" in params:
        strategy = "group_by_length" if config.group_by_length else "random"
        kwargs["train_sampling_strategy"] = strategy
    else:
        kwargs["group_by_length"] = config.group_by_length
    return TrainingArguments(**kwargs)


def _accelerated() -> bool:
    """Whether training runs on a GPU (CUDA or XPU) rather than the CPU."""
    import torch

    return torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())


def _trim_each_step() -> Any:
    """A Trainer callback that runs ``finetune.memory.trim_free_pages`` after every step."""
    from transformers import TrainerCallback

    from finetune.memory import trim_free_pages

    class TrimEachStep(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            trim_free_pages()

    return TrimEachStep()


def linear_module_names(model: Any) -> list[str]:
    """What ``all-linear`` means as names: every linear layer's name except the output head's.

    >>> linear_module_names(llama)  # doctest: +SKIP
    ['down_proj', 'gate_proj', 'k_proj', 'o_proj', 'q_proj', 'up_proj', 'v_proj']
    """
    import torch

    head = model.get_output_embeddings()
    return sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not head
        }
    )


def _loss_positions_trainer(trainer: type[Any], positions: LossPositions) -> type[Any]:
    """``trainer`` whose every loss (training and eval) runs inside ``positions.only``.

    The Trainer pops the labels before the forward pass and hands them to ``compute_loss_func``
    (``selected_loss``) with its count of loss tokens, so gradient accumulation, several
    devices and the reported losses work as with the model's own loss.
    """

    class LossPositionsTrainer(trainer):
        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            with positions.only(inputs["labels"]):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    return LossPositionsTrainer


def _base_model(config: TrainConfig) -> str:
    from agent.models import resolve_model  # lazy: it may convert the default model

    return resolve_model(config.base_model)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def train(config: TrainConfig, callbacks: Sequence[Any] = ()) -> TrainResult:
    """Fine-tune ``config.base_model`` with LoRA on ``config.data``; save the adapter to ``out``.

    >>> config = TrainConfig(data=["synth.jsonl"], out="runs/a", max_steps=50)
    >>> result = train(config)  # doctest: +SKIP
    >>> sorted(p.name for p in result.out.iterdir() if p.is_file())  # doctest: +SKIP
    ['adapter_config.json', 'adapter_model.safetensors', 'moss_agent.json']
    """
    started = time.perf_counter()
    if config.return_freed_memory:
        from finetune.memory import return_freed_memory

        return_freed_memory()
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, set_seed

    out = Path(config.out)
    init_from = _check_init_adapter(config)
    resume_from = last_checkpoint(out) if config.resume else None
    if not config.resume and last_checkpoint(out) is not None:
        raise MossAgentError(
            f"{out} already holds checkpoints from another run. Pass --resume to continue it, "
            "or choose an empty --out folder."
        )
    if config.resume and resume_from is None:
        log.info("no checkpoint in %s: starting from the beginning", out)
    if resume_from is not None:
        check_checkpoint_matches(resume_from, config)

    base = _base_model(config)
    tokenizer = AutoTokenizer.from_pretrained(base)
    train_examples, eval_examples, metas, report = prepare_data(config, tokenizer)
    log.info("data: %s", report.summary())

    set_seed(config.seed)  # LoRA's A matrices are drawn here
    base_lm = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    base_lm.config.use_cache = False  # no KV cache while training
    n_layers = int(getattr(base_lm.config, "num_hidden_layers", 0) or 0)
    top = min(config.top_layers, n_layers) if config.top_layers else 0
    targets = config.target_module_list
    if top and targets == "all-linear":
        targets = linear_module_names(base_lm)  # peft takes layers_to_transform with names only
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=targets,
        layers_to_transform=list(range(n_layers - top, n_layers)) if top else None,
        task_type="CAUSAL_LM",
    )
    if init_from is not None:
        # Continue an earlier stage: its LoRA weights (and saved LoRA config, which the check
        # above showed equals this one) instead of a fresh init. A checkpoint of this run, if
        # resumed, still overrides them below.
        model = PeftModel.from_pretrained(base_lm, str(init_from), is_trainable=True)
        # The earlier stage recorded the base model's path on the machine that trained it
        # (the shipped adapter's is a hub id); this stage's adapter records this run's base,
        # which peft also reads back when saving.
        for peft_config in model.peft_config.values():
            peft_config.base_model_name_or_path = base_lm.name_or_path
    else:
        model = get_peft_model(base_lm, lora)

    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    args = _training_arguments(config, has_eval=bool(eval_examples))
    positions = LossPositions(model) if config.loss_positions_only else None
    trainer_class = Trainer if positions is None else _loss_positions_trainer(Trainer, positions)
    rows = resolve_rows(config.micro_batch_size, config.batch_size, _accelerated())
    if rows < config.batch_size:
        trainer_class = micro_batch_trainer(trainer_class, rows)
    step_callbacks = [*callbacks, _trim_each_step()] if config.trim_memory else list(callbacks)
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=train_examples,
        eval_dataset=eval_examples or None,
        data_collator=PadCollator(pad_id, 8 if torch.cuda.is_available() else None),
        callbacks=step_callbacks,
        compute_loss_func=selected_loss if positions is not None else None,
    )
    try:
        output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        metrics: dict[str, float] = {k: float(v) for k, v in output.metrics.items()}
        eval_loss = None
        if eval_examples:
            # The periodic evaluation may have just run at the last step: the same loss on
            # the same weights, so it is read back rather than computed twice.
            logged = [h for h in trainer.state.log_history if "eval_loss" in h]
            if logged and logged[-1].get("step") == trainer.state.global_step:
                evaluated = {k: v for k, v in logged[-1].items() if k.startswith("eval_")}
            else:
                evaluated = trainer.evaluate()
            metrics.update({k: float(v) for k, v in evaluated.items()})
            eval_loss = metrics.get("eval_loss")
    finally:
        if positions is not None:
            positions.remove()

    result = TrainResult(
        replicas=replica_fingerprints(model),
        out=out,
        steps=int(trainer.state.global_step),
        train_loss=metrics.get("train_loss"),
        eval_loss=eval_loss,
        train_examples=len(train_examples),
        eval_examples=len(eval_examples),
        trained_tokens=sum(
            sum(1 for label in ex["labels"] if label != IGNORE_INDEX) for ex in train_examples
        ),
        seconds=time.perf_counter() - started,
        report=report,
        resumed_from=str(resume_from) if resume_from else None,
        metrics=metrics,
    )
    trainer.save_model(str(out))  # the adapter only: peft saves just the LoRA weights
    if trainer.is_world_process_zero():
        (out / "training_args.bin").unlink(missing_ok=True)  # a pickle; the config is below
        _drop_template_card(out / "README.md")
        write_adapter_info(out, config, base, metas, result)
    return result


def replica_fingerprints(model: Any) -> list[str]:
    """The trainable weights' fingerprint on every process of a distributed run, rank order.

    Data-parallel training keeps one replica of the model per process and averages gradients,
    so every replica must end with the same weights; a run whose replicas drifted apart (a
    process that skipped a step, a rank with other data) shows different fingerprints.
    """
    import hashlib

    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return []
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().numpy().tobytes())
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, digest.hexdigest()[:16])
    return [str(g) for g in gathered]


def _drop_template_card(path: Path) -> None:
    # peft writes a model card of placeholders; moss_agent.json holds the real facts.
    try:
        if "More Information Needed" in path.read_text(encoding="utf-8"):
            path.unlink()
    except OSError:
        pass


def write_adapter_info(
    out: Path, config: TrainConfig, base: str, metas: Counter[str], result: TrainResult
) -> Path:
    """Write ``moss_agent.json`` next to the adapter (atomically)."""
    info = {
        "format": INFO_FORMAT,
        "version": INFO_VERSION,
        "base_model": config.base_model or "default",
        # The default model is found by name on every machine (agent.models); its cache path
        # is this machine's, so only a base the user named is recorded as a path.
        "base_model_path": base if config.base_model else None,
        "meta_instruction_preset": config.meta_instruction,
        # What to use at inference: the system text most of the training data had.
        "meta_instruction": metas.most_common(1)[0][0] if metas else "",
        "meta_instructions": [{"text": t, "conversations": n} for t, n in metas.most_common(10)],
        "train_config": config.to_dict(),
        "data": result.report.to_dict(),
        "result": {
            "steps": result.steps,
            "train_loss": result.train_loss,
            "eval_loss": result.eval_loss,
            "train_examples": result.train_examples,
            "eval_examples": result.eval_examples,
            "trained_tokens": result.trained_tokens,
            "seconds": round(result.seconds, 1),
            "resumed_from": result.resumed_from,
            "replicas": result.replicas,
        },
        "versions": {p: _version(p) for p in ("torch", "transformers", "peft")},
    }
    earlier_folder = init_adapter_folder(config)
    if earlier_folder is not None:
        # The earlier stage's own record, so a chain of stages can be read from the last one.
        try:
            earlier = json.loads((earlier_folder / ADAPTER_INFO).read_text(encoding="utf-8"))
            info["init_adapter"] = {
                k: earlier.get(k)
                for k in ("train_config", "result", "init_adapter")
                if k in earlier
            }
        except (OSError, ValueError):
            info["init_adapter"] = None  # an adapter from elsewhere: its weights, no record
    path = out / ADAPTER_INFO
    with atomic_text_file(path) as f:
        f.write(json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    return path


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``moss-agent train``'s flags (one per ``TrainConfig`` field) to ``parser``."""
    add_config_arguments(parser, TrainConfig)


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``moss-agent train`` from parsed flags; print a summary; return the exit status."""
    result = train(config_from_args(args, TrainConfig))
    print(f"data: {result.report.summary()}")
    print(
        f"trained {result.steps} steps on {result.train_examples} examples "
        f"({result.trained_tokens} loss tokens/epoch) in {result.seconds:.0f} s; "
        f"train loss {_fmt(result.train_loss)}, eval loss {_fmt(result.eval_loss)}"
    )
    print(f"adapter: {result.out}")
    return 0


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m finetune.train --data ... --out ...`` (also under ``accelerate launch``)."""
    parser = argparse.ArgumentParser(
        prog="moss-agent train", description="LoRA fine-tuning on MOSS-format conversations."
    )
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_from_args(args)
    except TrainConfigError as error:  # flags that cannot work together: show the usage too
        parser.error(str(error))
    except MossAgentError as error:  # bad data, occupied out folder, model not available
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
