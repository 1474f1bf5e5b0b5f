"""Fold a LoRA adapter into its base model, giving an ordinary model folder.

A merged model needs no peft at inference and runs at the base model's speed; it can also be
converted to GGUF for llama.cpp::

    moss-agent merge --adapter runs/a --out models/moss-smol

    from finetune.merge import merge
    merge(None, "runs/a", "models/moss-smol")   # None: the default base model

The folder receives the merged weights (safetensors), the config, the base model's tokenizer
and, when the adapter has one, its ``moss_agent.json`` (what it was trained with).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from finetune.train import ADAPTER_INFO
from moss_core.errors import ModelNotAvailableError, MossAgentError


def merge(
    base: str | os.PathLike[str] | None,
    adapter: str | os.PathLike[str],
    out: str | os.PathLike[str],
) -> Path:
    """Merge ``adapter`` into ``base`` and save the result to ``out`` (atomically); return it.

    ``base`` is a Hugging Face folder or hub id; ``None`` means the base the adapter's
    ``moss_agent.json`` names, else the default model.

    >>> merge(None, "runs/a", "models/merged")  # doctest: +SKIP
    PosixPath('models/merged')
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agent.models import resolve_model

    adapter_dir = Path(adapter)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelNotAvailableError(
            f"{adapter_dir} holds no adapter_config.json: pass the --out folder of "
            "`moss-agent train` (or a peft adapter folder) as --adapter."
        )
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise MossAgentError(f"{target} exists and is not empty: choose a new --out folder.")
    base_path = resolve_model(base if base is not None else recorded_base(adapter_dir))
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if (adapter_dir / ADAPTER_INFO).is_file():
            shutil.copy2(adapter_dir / ADAPTER_INFO, tmp / ADAPTER_INFO)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def recorded_base(adapter: str | os.PathLike[str]) -> str | None:
    """The base model an adapter's ``moss_agent.json`` names; ``None`` for the default model."""
    try:
        info = json.loads((Path(adapter) / ADAPTER_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    recorded = info.get("base_model") if isinstance(info, dict) else None
    return recorded if isinstance(recorded, str) and recorded != "default" else None


def add_merge_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``moss-agent merge``'s flags to ``parser``."""
    parser.add_argument(
        "--adapter", required=True, help="The adapter folder (the --out of moss-agent train)."
    )
    parser.add_argument("--out", required=True, help="New folder for the merged model.")
    parser.add_argument(
        "--base-model",
        default=None,
        help="Base model folder or hub id; it must be the model the adapter was trained on "
        "(default: the one the adapter's moss_agent.json names, else the embedded "
        "SmolLM2-135M-Instruct).",
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``moss-agent merge`` from parsed flags; return the exit status."""
    path = merge(args.base_model, args.adapter, args.out)
    print(f"merged model: {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m finetune.merge --adapter runs/a --out models/merged``."""
    parser = argparse.ArgumentParser(
        prog="moss-agent merge", description="Fold a LoRA adapter into its base model."
    )
    add_merge_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args)
    except MossAgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
