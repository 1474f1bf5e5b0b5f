"""A PEFT LoRA adapter as a llama.cpp LoRA GGUF, converted once and cached beside the model.

llama.cpp applies a LoRA adapter at run time on top of the quantised base weights: each
targeted matrix computes ``W x + scale * B (A x)``. That keeps the base GGUF as shipped (no
re-quantisation, so the base weights are exactly those the transformers engine dequantises)
and costs a few small matrix products per layer. The file is ours to write: the ``gguf``
package (llama.cpp's own writer, a kept library) lays it out; this module maps names and checks
shapes::

    path = lora_gguf("finetune/adapters/default", base_gguf)   # cache/lora/default-<hash>.gguf
    Llama(base_gguf, lora_path=str(path))

Two details matter for fidelity:

- llama.cpp stores the query and key projections of Llama models with their rows permuted
  (rotary halves interleaved per head), as its converter writes them. The LoRA ``B`` of those
  two is permuted the same way, so ``B A`` lands on the rows the base weight uses.
- PEFT's scaling (``lora_alpha / r``, ``/ sqrt(r)`` with rsLoRA, per-module patterns) is folded
  into ``B`` and the file says ``alpha = 0``, which llama.cpp reads as "scale 1". One rule then
  covers every scaling PEFT has.

An adapter that does not fit the base model (another architecture, a module llama.cpp cannot
take a LoRA on, shapes that differ) is refused here, before the first token.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from moss_core.errors import ModelNotAvailableError

# Bump when the layout written below changes, so cached files are converted again.
FORMAT_VERSION = 1

# PEFT module name -> llama.cpp tensor name, for the Llama architecture.
LLAMA_MODULES = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}


def lora_gguf(
    adapter: str | os.PathLike[str],
    base_gguf: str | os.PathLike[str],
    cache: str | os.PathLike[str] | None = None,
) -> Path:
    """The llama.cpp LoRA file for the PEFT ``adapter`` folder, converting it first if needed.

    Cached under the cache's ``lora/``, named after the adapter folder and a hash of its
    weights, its config and this converter's format, so a changed adapter is converted again.
    """
    from agent.models import cache_dir

    folder = Path(adapter)
    config_file, weights_file = folder / "adapter_config.json", folder / "adapter_model.safetensors"
    if not config_file.is_file() or not weights_file.is_file():
        raise ModelNotAvailableError(
            f"{folder} is not a LoRA adapter folder: it needs adapter_config.json and "
            "adapter_model.safetensors, as PeftModel.save_pretrained and `moss-agent train` "
            "write them"
        )
    digest = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    for file in (config_file, weights_file):
        digest.update(file.read_bytes())
    target = cache_dir(cache) / "lora" / f"{folder.resolve().name}-{digest.hexdigest()[:12]}.gguf"
    if target.is_file():
        return target
    base = base_shape(base_gguf)
    _write(target, base["architecture"], adapter_tensors(folder, base))
    return target


def base_shape(base_gguf: str | os.PathLike[str]) -> dict[str, Any]:
    """The architecture and sizes a LoRA must fit, read from the base GGUF's header."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))

    def field(key: str) -> Any:
        f = reader.fields.get(key)
        if f is None:
            return None
        value = f.parts[f.data[0]]
        return bytes(value).decode() if f.types[0] == gguf.GGUFValueType.STRING else value[0]

    arch = field("general.architecture")
    shapes = {t.name: tuple(int(n) for n in reversed(t.shape)) for t in reader.tensors}
    return {
        "architecture": arch,
        "n_layer": int(field(f"{arch}.block_count") or 0),
        "n_head": int(field(f"{arch}.attention.head_count") or 0),
        "n_head_kv": int(field(f"{arch}.attention.head_count_kv") or 0),
        # (rows, columns) as PyTorch shapes them: (out_features, in_features).
        "shapes": shapes,
    }


def adapter_tensors(folder: Path, base: dict[str, Any]) -> dict[str, Any]:
    """The llama.cpp-named ``lora_a``/``lora_b`` arrays of the adapter in ``folder``, checked
    against ``base``, with PEFT's scaling folded into each ``lora_b``."""
    import numpy as np
    from safetensors.numpy import load_file

    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    _check_config(folder, config, base)
    weights = load_file(str(folder / "adapter_model.safetensors"))
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in weights.items():
        # base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight
        parts = key.split(".")
        if "layers" not in parts or parts[-1] != "weight" or parts[-2] not in ("lora_A", "lora_B"):
            raise ModelNotAvailableError(
                f"{folder}: the adapter holds {key!r}, which is not a LoRA matrix of a decoder "
                "layer (embeddings, norms or modules_to_save); llama.cpp cannot apply it. "
                "Use the transformers engine for this adapter."
            )
        layer, module = int(parts[parts.index("layers") + 1]), parts[-3]
        if module not in LLAMA_MODULES:
            raise ModelNotAvailableError(
                f"{folder}: LoRA on {module!r} has no llama.cpp counterpart (it takes "
                f"{', '.join(LLAMA_MODULES)}); use the transformers engine for this adapter"
            )
        pairs.setdefault(f"blk.{layer}.{LLAMA_MODULES[module]}.weight", {})[parts[-2]] = (
            value.astype(np.float32),
            module,
        )
    tensors: dict[str, Any] = {}
    for name, pair in sorted(pairs.items()):
        if set(pair) != {"lora_A", "lora_B"}:
            raise ModelNotAvailableError(f"{folder}: {name} has only {sorted(pair)}; re-save it")
        (a, module), (b, _) = pair["lora_A"], pair["lora_B"]
        expected = base["shapes"].get(name)
        if expected is None:
            raise ModelNotAvailableError(
                f"{folder}: the base model has no {name} (it has {base['n_layer']} layers); "
                "this adapter was trained for another model"
            )
        out_features, in_features = expected
        if a.shape[1] != in_features or b.shape[0] != out_features or a.shape[0] != b.shape[1]:
            raise ModelNotAvailableError(
                f"{folder}: the LoRA for {name} has A {a.shape} and B {b.shape}, which do not "
                f"fit the base weight ({out_features} x {in_features}); this adapter was "
                "trained for another model"
            )
        scale = _scaling(config, module, a.shape[0])
        if module in ("q_proj", "k_proj"):
            heads = base["n_head"] if module == "q_proj" else base["n_head_kv"]
            b = permute_rows(b, heads)
        tensors[f"{name}.lora_a"] = np.ascontiguousarray(a)
        tensors[f"{name}.lora_b"] = np.ascontiguousarray(b * np.float32(scale))
    if not tensors:
        raise ModelNotAvailableError(f"{folder}: the adapter holds no LoRA matrices")
    return tensors


def permute_rows(weight: Any, n_head: int) -> Any:
    """Rows in llama.cpp's order for a query or key projection of ``n_head`` heads.

    Hugging Face's Llama keeps each head's rotary dimensions as two halves; llama.cpp
    interleaves them. Row ``h*d + 2*i + j`` of the result is row ``h*d + j*d/2 + i`` here.
    """
    rows = weight.shape[0]
    return (
        weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:])
        .swapaxes(1, 2)
        .reshape(weight.shape)
    )


def _check_config(folder: Path, config: dict[str, Any], base: dict[str, Any]) -> None:
    if config.get("peft_type", "LORA") != "LORA":
        raise ModelNotAvailableError(f"{folder}: a {config.get('peft_type')} adapter is not LoRA")
    if base["architecture"] != "llama":
        raise ModelNotAvailableError(
            f"the base model is a {base['architecture']!r} model; LoRA adapters are converted "
            "for Llama-architecture GGUFs only (use the transformers engine)"
        )
    for flag, what in (("use_dora", "DoRA"), ("fan_in_fan_out", "fan_in_fan_out")):
        if config.get(flag):
            raise ModelNotAvailableError(
                f"{folder}: {what} adapters cannot run on llama.cpp; use the transformers engine"
            )
    if config.get("modules_to_save"):
        raise ModelNotAvailableError(
            f"{folder}: the adapter saves whole modules ({config['modules_to_save']}), which a "
            "llama.cpp LoRA cannot carry; use the transformers engine"
        )


def _scaling(config: dict[str, Any], module: str, rank: int) -> float:
    """PEFT's factor on ``B A`` for ``module`` (alpha / r, or alpha / sqrt(r) with rsLoRA)."""
    alpha = float(_pattern(config.get("alpha_pattern"), module, config.get("lora_alpha", 8)))
    r = int(_pattern(config.get("rank_pattern"), module, config.get("r", rank)))
    return alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r


def _pattern(patterns: dict[str, Any] | None, module: str, default: Any) -> Any:
    for key, value in (patterns or {}).items():
        if key == module or key.endswith("." + module):
            return value
    return default


def _write(target: Path, arch: str, tensors: dict[str, Any]) -> None:
    import gguf

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".convert-", suffix=".gguf")
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, arch)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        # 0 tells llama.cpp "scale 1": PEFT's scaling is already in each lora_b.
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 0.0)
        for name, array in tensors.items():
            writer.add_tensor(name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
