"""finetune.config / train / merge on a tiny real Llama (2 layers, 32 wide): no mocks.

Each training run here takes a few seconds on a CPU: the model is tiny, the Trainer is the
real one, checkpoints and adapters are written to tmp folders and read back.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import TrainerCallback

from agent.shipped import adapter_preset, preset_for
from finetune.config import (
    TrainConfig,
    TrainConfigError,
    add_config_arguments,
    config_from_args,
    config_to_argv,
)
from finetune.data import Conversation, rebuild_meta_instruction, write_conversations
from finetune.merge import merge
from finetune.train import (
    ADAPTER_INFO,
    check_lora_matches,
    init_adapter_folder,
    last_checkpoint,
    resolve_bf16,
    train,
)
from moss_core.errors import MossAgentError
from tests.test_finetune_data import sample_conversations, save_tiny_model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The short system text keeps examples near 150 tokens: each step takes milliseconds.
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    short = rebuild_meta_instruction(sample_conversations(1)[0].meta_instruction, "short")
    write_conversations(path, [Conversation(short, c.exchanges) for c in sample_conversations(16)])
    with path.open("a", encoding="utf-8") as f:
        f.write('{"meta_instruction": "M", "turns": [{"human": 3, "reply": "x"}]}\n')
    return path


def quick_config(model: Path, data: Path, out: Path, **override: Any) -> TrainConfig:
    values: dict[str, Any] = dict(
        base_model=str(model),
        data=[str(data)],
        out=str(out),
        rank=4,
        alpha=8,
        dropout=0.0,
        learning_rate=5e-3,
        max_steps=6,
        batch_size=4,
        max_length=1024,
        eval_fraction=0.2,
        eval_steps=3,
        save_steps=3,
        logging_steps=2,
        bf16="off",
    )
    values.update(override)
    return TrainConfig(**values)


class Snapshot(TrainerCallback):
    """Copies every parameter when training begins and ends."""

    def __init__(self) -> None:
        self.before: dict[str, Any] = {}
        self.after: dict[str, Any] = {}
        self.trainable: set[str] = set()
        self.evaluated_at: list[int] = []  # the step of every evaluation

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any):
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any):
        self.after = {n: p.detach().clone() for n, p in model.named_parameters()}

    def on_evaluate(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.evaluated_at.append(state.global_step)


@pytest.fixture(scope="module")
def trained(tiny_model: Path, data_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("run")
    snapshot = Snapshot()
    result = train(quick_config(tiny_model, data_file, out), callbacks=[snapshot])
    return result, snapshot


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


def test_flags_come_from_the_dataclass() -> None:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, TrainConfig)
    args = parser.parse_args(
        ["--data", "a.jsonl", "b", "--out", "o", "--rank", "8", "--no-group-by-length"]
    )
    config = config_from_args(args, TrainConfig)
    assert config.data == ["a.jsonl", "b"] and config.rank == 8 and not config.group_by_length
    assert config_from_args(parser.parse_args(config_to_argv(config)), TrainConfig) == config
    help_text = parser.format_help()
    assert "--learning-rate" in help_text and "LoRA rank" in help_text
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", "o"])  # --data is required


@pytest.mark.parametrize(
    ("override", "fix"),
    [
        ({"rank": 0}, "--rank"),
        ({"epochs": 0}, "--max-steps"),
        ({"eval_fraction": 1.0}, "--eval-fraction"),
        ({"bf16": "maybe"}, "'auto'"),
        ({"resume": True, "save_steps": 0}, "--save-steps"),
        ({"data": []}, "--data"),
    ],
)
def test_config_checks_name_the_fix(override: dict[str, Any], fix: str) -> None:
    values: dict[str, Any] = {"data": ["d.jsonl"], "out": "o", **override}
    with pytest.raises(TrainConfigError, match=fix):  # a MossAgentError and a ValueError
        TrainConfig(**values)


def test_lora_shape_check_reads_adapter_config(tmp_path: Path) -> None:
    saved = {"r": 4, "lora_alpha": 8, "layers_to_transform": [0, 1], "target_modules": ["q_proj"]}
    (tmp_path / "adapter_config.json").write_text(json.dumps(saved), encoding="utf-8")

    def check(**override: Any) -> None:
        values: dict[str, Any] = {"rank": 4, "alpha": 8, "target_modules": "q_proj", **override}
        check_lora_matches(tmp_path, TrainConfig(["d"], "o", **values), "pass {flag} {saved}")

    check(top_layers=2)
    check(top_layers=0)  # the saved layers are every layer of a 2-layer model: the same shape
    check(top_layers=30)
    (tmp_path / "adapter_config.json").write_text(
        json.dumps({**saved, "layers_to_transform": [1]}), encoding="utf-8"
    )  # the last layer only
    with pytest.raises(MossAgentError, match="--top-layers 1, not 2: pass --top-layers 1"):
        check(top_layers=2)
    with pytest.raises(MossAgentError, match="--target-modules q_proj, not q_proj,v_proj"):
        check(top_layers=1, target_modules="q_proj,v_proj")
    with pytest.raises(MossAgentError, match="--alpha 8, not 16"):
        check(top_layers=1, alpha=16)


def test_init_adapter_default_is_the_shipped_adapter_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.shipped import ADAPTER_DIR

    monkeypatch.chdir(tmp_path)
    config = TrainConfig(data=["d.jsonl"], out="o", init_adapter="default")
    assert init_adapter_folder(config) == ADAPTER_DIR
    (tmp_path / "default").mkdir()  # a folder of that name where the command runs wins
    assert init_adapter_folder(config) == Path("default")
    assert init_adapter_folder(TrainConfig(data=["d.jsonl"], out="o")) is None


def test_bf16_setting() -> None:
    assert resolve_bf16("on") and not resolve_bf16("off")
    assert isinstance(resolve_bf16("auto"), bool)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_lora_weights_change_and_base_weights_do_not(trained: Any) -> None:
    result, snapshot = trained
    assert snapshot.trainable and all("lora_" in n for n in snapshot.trainable)
    frozen = set(snapshot.before) - snapshot.trainable
    assert frozen
    for name in snapshot.trainable:
        assert not torch.equal(snapshot.before[name], snapshot.after[name]), name
    for name in frozen:
        assert torch.equal(snapshot.before[name], snapshot.after[name]), name
    assert result.steps == 6
    assert math.isfinite(result.train_loss) and math.isfinite(result.eval_loss)
    # Evaluated every 3 steps; the evaluation at the last step is the final one, not redone.
    assert snapshot.evaluated_at == [3, 6]
    assert result.train_examples + result.eval_examples == 16
    assert result.eval_examples == 3
    assert result.report.skipped == {"wrong type": 1}


@pytest.mark.slow
def test_adapter_folder_contents(trained: Any) -> None:
    result, _ = trained
    files = sorted(p.name for p in result.out.iterdir() if p.is_file())
    assert files == ["adapter_config.json", "adapter_model.safetensors", ADAPTER_INFO]
    assert last_checkpoint(result.out) == result.out / "checkpoint-6"
    info = json.loads((result.out / ADAPTER_INFO).read_text(encoding="utf-8"))
    assert info["meta_instruction"].startswith("You are MOSS, a helpful assistant.")
    assert info["meta_instruction_preset"] == "data"
    # Evaluation and Agent.default read back the preset that text came from.
    assert adapter_preset(result.out) == "short"
    assert info["train_config"]["rank"] == 4
    assert info["data"]["skipped"] == {"wrong type": 1}
    assert info["result"]["steps"] == 6
    adapter_config = json.loads((result.out / "adapter_config.json").read_text())
    assert adapter_config["r"] == 4


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(
    tiny_model: Path, data_file: Path, tmp_path: Path
) -> None:
    from finetune.train import main

    out = tmp_path / "run"
    first = quick_config(tiny_model, data_file, out, max_steps=4, save_steps=2, eval_fraction=0)
    argv = config_to_argv(first)  # the CLI, with the flags the dataclass generates
    assert main(argv) == 0
    assert last_checkpoint(out) == out / "checkpoint-4"
    # Without --resume an occupied folder is refused rather than silently mixed.
    with pytest.raises(MossAgentError, match="--resume"):
        train(quick_config(tiny_model, data_file, out, max_steps=6, save_steps=2))
    # Other LoRA shapes cannot continue these weights: said plainly, before any loading.
    with pytest.raises(MossAgentError, match="--rank 4"):
        train(quick_config(tiny_model, data_file, out, rank=8, save_steps=2, resume=True))
    result = train(quick_config(tiny_model, data_file, out, max_steps=6, save_steps=2, resume=True))
    assert result.resumed_from is not None and result.resumed_from.endswith("checkpoint-4")
    assert result.steps == 6
    assert last_checkpoint(out) == out / "checkpoint-6"


@pytest.mark.slow
def test_init_adapter_continues_an_earlier_stage(
    trained: Any, tiny_model: Path, data_file: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    first, _ = trained
    saved = load_file(str(first.out / "adapter_model.safetensors"))
    # Another LoRA shape cannot take these weights: said before any model is loaded.
    with pytest.raises(MossAgentError, match="--rank 4"):
        train(
            quick_config(tiny_model, data_file, tmp_path / "x", rank=8, init_adapter=str(first.out))
        )
    with pytest.raises(MossAgentError, match="no adapter_config"):
        train(quick_config(tiny_model, data_file, tmp_path / "y", init_adapter=str(tmp_path)))
    with pytest.raises(MossAgentError, match="another --out"):
        train(quick_config(tiny_model, data_file, first.out, init_adapter=str(first.out)))

    # An adapter trained on another machine records that machine's base path; the next stage
    # records its own base instead (peft would otherwise look for the old one when saving).
    moved = tmp_path / "moved"
    shutil.copytree(first.out, moved)
    adapter_config = moved / "adapter_config.json"
    recorded = json.loads(adapter_config.read_text(encoding="utf-8"))
    recorded["base_model_name_or_path"] = "/elsewhere/models/base"
    adapter_config.write_text(json.dumps(recorded), encoding="utf-8")

    snapshot = Snapshot()
    config = quick_config(
        tiny_model,
        data_file,
        tmp_path / "stage2",
        max_steps=2,
        save_steps=0,
        init_adapter=str(moved),
    )
    result = train(config, callbacks=[snapshot])
    # The second stage starts from exactly the first stage's LoRA weights (a fresh init has
    # lora_B = 0), and trains them further; frozen weights stay frozen.
    starts = {n.replace(".default", ""): t for n, t in snapshot.before.items() if "lora_" in n}
    assert set(starts) == set(saved)
    for name, tensor in saved.items():
        assert torch.equal(starts[name], tensor), name
    assert any(torch.count_nonzero(t) for n, t in saved.items() if "lora_B" in n)
    changed = [
        n for n in snapshot.trainable if not torch.equal(snapshot.before[n], snapshot.after[n])
    ]
    assert changed and all("lora_" in n for n in changed)
    assert result.steps == 2
    info = json.loads((result.out / ADAPTER_INFO).read_text(encoding="utf-8"))
    assert info["train_config"]["init_adapter"] == str(moved)
    assert info["init_adapter"]["result"]["steps"] == 6  # the earlier stage's own record
    saved_config = json.loads((result.out / "adapter_config.json").read_text(encoding="utf-8"))
    assert saved_config["base_model_name_or_path"] == str(tiny_model)


@pytest.mark.slow
def test_bf16_autocast_and_checkpointing(tiny_model: Path, data_file: Path, tmp_path: Path) -> None:
    config = quick_config(tiny_model, data_file, tmp_path, max_steps=2, eval_fraction=0)
    config.bf16, config.gradient_checkpointing, config.save_steps = "on", True, 0
    result = train(config)
    assert result.steps == 2
    assert result.train_loss is not None and math.isfinite(result.train_loss)


@pytest.mark.slow
def test_top_layers_limits_lora_to_the_last_layers(
    tiny_model: Path, data_file: Path, tmp_path: Path
) -> None:
    snapshot = Snapshot()
    config = quick_config(tiny_model, data_file, tmp_path, max_steps=1, eval_fraction=0)
    config.top_layers, config.save_steps = 1, 0
    train(config, callbacks=[snapshot])
    layers = {name.split(".layers.")[1].split(".")[0] for name in snapshot.trainable}
    assert layers == {"1"}  # the tiny model has layers 0 and 1
    kinds = {name.split(".lora_")[0].rsplit(".", 1)[-1] for name in snapshot.trainable}
    assert kinds == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.mark.slow
def test_short_meta_instruction_preset(tiny_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "moss-meta.jsonl"
    write_conversations(data, sample_conversations(4))
    assert sample_conversations(1)[0].meta_instruction.startswith("You are an AI assistant")
    config = quick_config(
        tiny_model, data, tmp_path / "run", meta_instruction="short", max_steps=1, save_steps=0
    )
    result = train(config)
    info = json.loads((result.out / ADAPTER_INFO).read_text(encoding="utf-8"))
    assert info["meta_instruction"].startswith("You are MOSS, a helpful assistant.")
    assert "Calculate(expression)" in info["meta_instruction"]


def test_an_adapter_trained_on_moss_text_asks_for_the_moss_preset(tmp_path: Path) -> None:
    from moss_core.protocol import MOSS_HEAD

    assert adapter_preset(tmp_path) == "short"  # nothing recorded
    info = {"meta_instruction_preset": "data", "meta_instruction": MOSS_HEAD + "- Search..."}
    (tmp_path / ADAPTER_INFO).write_text(json.dumps(info), encoding="utf-8")
    assert adapter_preset(tmp_path) == "moss"
    # ask, chat and eval: the adapter's preset wins; without one, the model decides.
    assert preset_for(None, tmp_path) == preset_for("some/model", tmp_path) == "moss"
    assert (preset_for(None, None), preset_for("some/model", None)) == ("short", "moss")


# ---------------------------------------------------------------------------------------------
# Merge
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_merged_model_equals_base_plus_adapter(
    trained: Any, tiny_model: Path, tmp_path: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result, _ = trained
    merged_dir = merge(tiny_model, result.out, tmp_path / "merged")
    assert (merged_dir / ADAPTER_INFO).is_file()
    assert (merged_dir / "tokenizer.json").is_file()

    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    texts = ["<|Human|>: What is 3*7?<eoh>\n<|Inner Thoughts|>:", "谁写了《红楼梦》？", "x"]
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    plain = [base(**tokenizer(t, return_tensors="pt")).logits for t in texts]
    adapted_model = PeftModel.from_pretrained(base, str(result.out)).eval()
    merged_model = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    with torch.no_grad():
        for text, base_logits in zip(texts, plain, strict=True):
            batch = tokenizer(text, return_tensors="pt")
            adapted = adapted_model(**batch).logits
            merged = merged_model(**batch).logits
            assert torch.allclose(adapted, merged, atol=1e-4), text
            assert not torch.allclose(adapted, base_logits, atol=1e-4)  # the adapter matters
    with pytest.raises(MossAgentError, match="not empty"):
        merge(tiny_model, result.out, merged_dir)
