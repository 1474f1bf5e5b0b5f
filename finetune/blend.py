"""Blend LoRA adapters of one base model: their weight changes averaged with chosen weights.

A stage trained on new data (word problems) learns the new skill and moves what the earlier
adapter knew; a point between the two weight changes can keep most of both (the same reason
robust fine-tuning interpolates between a model and its fine-tuned copy). The blend is exact,
with no retraining and no torch: an adapter's change to a weight is ``B @ A * alpha / r``, so
stacking the adapters' ``A`` along the rank, and their ``B`` scaled by each weight and scale,
gives one adapter whose change is the weighted sum. Its rank is the sum of the ranks::

    moss-agent blend --adapter default --adapter runs/steps --weights 0.5,0.5 --out runs/mid

    from finetune.blend import blend
    blend(["default", "runs/steps"], [0.5, 0.5], "runs/mid")

The adapters must share base model, target modules and LoRA settings other than rank and
alpha (a mismatch is refused, naming it). The new folder receives ``adapter_config.json``,
``adapter_model.safetensors`` and a ``moss_agent.json`` taken from the first adapter, with the
blend recorded in it.
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

from agent.shipped import SETTINGS_FILE, adapter_folder
from moss_core.errors import ModelNotAvailableError, MossAgentError

# LoRA settings that change what a weight means; adapters that differ in one cannot be blended.
_MUST_AGREE = ("target_modules", "use_rslora", "use_dora", "bias", "modules_to_save", "peft_type")


def _adapter(name: str | os.PathLike[str]) -> Path:
    folder = adapter_folder(name)
    if not (folder / "adapter_config.json").is_file():
        raise ModelNotAvailableError(
            f"{folder} holds no adapter_config.json: pass `default` or the --out folder of "
            "`moss-agent train` as --adapter."
        )
    return folder


def _agree(configs: list[dict[str, object]], folders: list[Path]) -> None:
    first = configs[0]
    for config, folder in zip(configs[1:], folders[1:], strict=True):
        for key in _MUST_AGREE:
            a, b = first.get(key), config.get(key)
            if isinstance(a, list) and isinstance(b, list):
                a, b = sorted(map(str, a)), sorted(map(str, b))
            if a != b:
                raise MossAgentError(
                    f"{folder} has {key}={config.get(key)!r} but {folders[0]} has "
                    f"{first.get(key)!r}: only adapters trained with the same LoRA settings "
                    "(other than rank and alpha) can be blended."
                )
        if config.get("alpha_pattern") or config.get("rank_pattern"):
            raise MossAgentError(
                f"{folder} sets a per-module rank or alpha (rank_pattern/alpha_pattern), "
                "which blending does not support."
            )


def blend(
    adapters: Sequence[str | os.PathLike[str]],
    weights: Sequence[float],
    out: str | os.PathLike[str],
    *,
    half: bool = False,
) -> Path:
    """Write to ``out`` (a new folder, created atomically) the adapter whose weight change is
    ``sum(w * change(a) for a, w in zip(adapters, weights))``; return ``out``.

    ``half`` stores the matrices in float16: the stacked ranks double an adapter's size, and
    half precision brings it back, at a rounding of about 5e-4 of each weight (loaders compute
    in float32 either way). The blend is then exact up to that rounding.
    """
    import numpy as np
    from safetensors.numpy import load_file, save_file

    if len(adapters) < 2 or len(adapters) != len(weights):
        raise MossAgentError(
            f"got {len(adapters)} adapters and {len(weights)} weights: give two or more "
            "adapters and one weight for each."
        )
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise MossAgentError(f"{target} exists and is not empty: choose a new --out folder.")
    folders = [_adapter(a) for a in adapters]
    configs = [json.loads((f / "adapter_config.json").read_text("utf-8")) for f in folders]
    _agree(configs, folders)
    tensors = [load_file(str(f / "adapter_model.safetensors")) for f in folders]
    keys = set(tensors[0])
    for t, folder in zip(tensors[1:], folders[1:], strict=True):
        if set(t) != keys:
            raise MossAgentError(
                f"{folder} adapts other weights than {folders[0]} "
                f"({len(set(t) ^ keys)} names differ): they cannot be blended."
            )
    ranks = [int(c["r"]) for c in configs]
    scales = [float(c["lora_alpha"]) / r for c, r in zip(configs, ranks, strict=True)]
    rank = sum(ranks)
    # The blend's own scale is alpha/rank = 1: each adapter's scale and weight go into its B.
    merged: dict[str, np.ndarray] = {}
    for key in sorted(keys):
        # float32 (or wider) while summing, whatever the inputs: a float16 input scaled in
        # float16 would round the blend; ``half`` rounds once, at the end.
        wide = np.result_type(np.float32, *(t[key].dtype for t in tensors))
        if ".lora_A." in key:
            merged[key] = np.concatenate([t[key].astype(wide) for t in tensors], axis=0)
        elif ".lora_B." in key:
            parts = [
                t[key].astype(wide) * (w * s)
                for t, w, s in zip(tensors, weights, scales, strict=True)
            ]
            merged[key] = np.concatenate(parts, axis=1)
        else:
            raise MossAgentError(
                f"{folders[0]} holds {key}, which is not a LoRA A or B matrix: only plain "
                "LoRA adapters can be blended."
            )
        merged[key] = np.ascontiguousarray(merged[key], dtype=np.float16 if half else wide)
    config = dict(configs[0])
    config.update(r=rank, lora_alpha=rank)
    info_file = folders[0] / SETTINGS_FILE
    info = json.loads(info_file.read_text("utf-8")) if info_file.is_file() else {}
    info["blend"] = [
        {"adapter": str(a), "weight": float(w), "rank": r}
        for a, w, r in zip(adapters, weights, ranks, strict=True)
    ]
    if half:
        info["blend_dtype"] = "float16"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save_file(merged, str(tmp / "adapter_model.safetensors"), metadata={"format": "pt"})
        (tmp / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n", "utf-8")
        (tmp / SETTINGS_FILE).write_text(json.dumps(info, indent=2) + "\n", "utf-8")
        if target.exists():
            target.rmdir()  # empty, checked above
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _weights(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--weights {text!r}: give one number per adapter, separated by commas (0.5,0.5)."
        ) from None


def add_blend_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``moss-agent blend``'s flags to ``parser``."""
    parser.add_argument(
        "--adapter",
        action="append",
        required=True,
        help="An adapter folder, or `default` for the shipped one; give it twice or more.",
    )
    parser.add_argument(
        "--weights",
        type=_weights,
        required=True,
        help="One weight per adapter, in order, separated by commas (e.g. 0.6,0.4).",
    )
    parser.add_argument("--out", required=True, help="New folder for the blended adapter.")
    parser.add_argument(
        "--half",
        action="store_true",
        help="Store the weights in float16: half the size, rounded to about 5e-4 of each weight.",
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``moss-agent blend`` from parsed flags; return the exit status."""
    path = blend(args.adapter, args.weights, args.out, half=args.half)
    print(f"blended adapter: {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m finetune.blend --adapter a --adapter b --weights 0.5,0.5 --out c``."""
    parser = argparse.ArgumentParser(
        prog="moss-agent blend", description="Blend LoRA adapters of one base model."
    )
    add_blend_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args)
    except MossAgentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
