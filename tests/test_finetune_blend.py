"""finetune.blend: the blended adapter's weight changes are the weighted sum of its inputs',
checked on the shipped adapter and on a second adapter of another rank, and through peft on
the real default model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from agent.shipped import ADAPTER_DIR
from finetune.blend import blend, main
from moss_core.errors import ModelNotAvailableError, MossAgentError


def deltas(folder: Path) -> dict[str, np.ndarray]:
    """Each adapted weight's change, ``B @ A * alpha / r``, by module name."""
    config = json.loads((folder / "adapter_config.json").read_text())
    scale = config["lora_alpha"] / config["r"]
    tensors = load_file(str(folder / "adapter_model.safetensors"))
    out = {}
    for key, a in tensors.items():
        if ".lora_A." in key:
            b = tensors[key.replace(".lora_A.", ".lora_B.")]
            out[key.split(".lora_A.")[0]] = (b.astype(np.float64) @ a.astype(np.float64)) * scale
    return out


def other_adapter(tmp_path: Path, rank: int = 8) -> Path:
    """An adapter of the shipped one's modules with another rank, alpha and random weights."""
    folder = tmp_path / "other"
    folder.mkdir()
    config = json.loads((ADAPTER_DIR / "adapter_config.json").read_text())
    config.update(r=rank, lora_alpha=3 * rank)
    (folder / "adapter_config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(0)
    tensors = {}
    for key, value in load_file(str(ADAPTER_DIR / "adapter_model.safetensors")).items():
        shape = (rank, value.shape[1]) if ".lora_A." in key else (value.shape[0], rank)
        tensors[key] = rng.normal(0, 0.02, shape).astype(np.float32)
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    return folder


def test_the_blend_is_the_weighted_sum_of_the_weight_changes(tmp_path: Path) -> None:
    other = other_adapter(tmp_path)
    out = blend(["default", other], [0.7, 0.3], tmp_path / "mid")
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == json.loads((ADAPTER_DIR / "adapter_config.json").read_text())["r"] + 8
    got, shipped, second = deltas(out), deltas(ADAPTER_DIR), deltas(other)
    assert set(got) == set(shipped) == set(second) and len(got) == 210
    for name, change in got.items():
        np.testing.assert_allclose(
            change, 0.7 * shipped[name] + 0.3 * second[name], rtol=1e-5, atol=1e-8, err_msg=name
        )
    info = json.loads((out / "moss_agent.json").read_text())
    assert [part["weight"] for part in info["blend"]] == [0.7, 0.3]
    assert info["meta_instruction"]  # the first adapter's record, so inference rebuilds its text


def test_half_stores_float16_at_half_the_size_and_rounds_only(tmp_path: Path) -> None:
    other = other_adapter(tmp_path)
    full = blend(["default", other], [0.6, 0.4], tmp_path / "full")
    half = blend(["default", other], [0.6, 0.4], tmp_path / "half", half=True)
    assert {t.dtype for t in load_file(str(full / "adapter_model.safetensors")).values()} == {
        np.dtype(np.float32)
    }
    assert {t.dtype for t in load_file(str(half / "adapter_model.safetensors")).values()} == {
        np.dtype(np.float16)
    }
    size = (full / "adapter_model.safetensors").stat().st_size
    assert (half / "adapter_model.safetensors").stat().st_size < 0.51 * size
    exact, rounded = deltas(full), deltas(half)
    for name, change in exact.items():
        assert np.abs(rounded[name] - change).max() <= 2e-3 * np.abs(change).max(), name
    assert json.loads((half / "moss_agent.json").read_text())["blend_dtype"] == "float16"


def test_weights_one_and_zero_give_the_first_adapter_through_peft(tmp_path: Path) -> None:
    """On the real default model: the blend of (shipped 1.0, other 0.0) gives the shipped
    adapter's logits."""
    torch = pytest.importorskip("torch")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agent.models import resolve_model

    out = blend(["default", other_adapter(tmp_path)], [1.0, 0.0], tmp_path / "same")
    base = resolve_model(None)
    tokenizer = AutoTokenizer.from_pretrained(base)
    ids = tokenizer("<|Human|>: What is 12*7?<eoh>\n<|Inner Thoughts|>:", return_tensors="pt")
    logits = []
    for folder in (ADAPTER_DIR, out):
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        model = PeftModel.from_pretrained(model, str(folder)).eval()
        with torch.no_grad():
            logits.append(model(**ids).logits)
    torch.testing.assert_close(logits[1], logits[0], rtol=1e-4, atol=1e-4)


def test_bad_input_is_refused_naming_the_fix(tmp_path: Path) -> None:
    other = other_adapter(tmp_path)
    with pytest.raises(MossAgentError, match="one weight for each"):
        blend(["default", other], [1.0], tmp_path / "a")
    with pytest.raises(ModelNotAvailableError, match=r"adapter_config\.json"):
        blend(["default", tmp_path / "missing"], [0.5, 0.5], tmp_path / "b")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(MossAgentError, match="not empty"):
        blend(["default", other], [0.5, 0.5], full)
    narrow = tmp_path / "narrow"
    shutil.copytree(other, narrow)
    config = json.loads((narrow / "adapter_config.json").read_text())
    config["target_modules"] = ["q_proj", "v_proj"]
    (narrow / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(MossAgentError, match="target_modules"):
        blend(["default", narrow], [0.5, 0.5], tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = other_adapter(tmp_path)
    out = tmp_path / "cli"
    args = ["--adapter", "default", "--adapter", str(other), "--weights", "0.5,0.5"]
    assert main([*args, "--out", str(out)]) == 0
    assert (out / "adapter_model.safetensors").is_file()
    assert main([*args, "--out", str(out)]) == 1  # not empty now
    assert "choose a new --out folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--adapter", "default", "--weights", "half,half", "--out", str(tmp_path / "x")])
