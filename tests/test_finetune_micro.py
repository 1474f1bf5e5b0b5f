"""finetune.micro on a tiny real Llama with LoRA: a batch run as micro-batches trains the same
weights and reports the same losses as the batch run whole. No mocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from finetune.config import TrainConfig, TrainConfigError
from finetune.loss import target_mask
from finetune.micro import micro_batch_trainer, micro_batches
from finetune.train import train
from tests.test_finetune_loss import grads, lora_model, padded_batch
from tests.test_finetune_train import data_file, quick_config, tiny_model  # noqa: F401


def test_micro_batches_keep_rows_in_order_and_drop_only_shared_padding() -> None:
    batch = padded_batch(5)
    parts = list(micro_batches(batch, 2))
    assert [len(p["input_ids"]) for p in parts] == [2, 2, 1]
    for start, part in zip((0, 2, 4), parts, strict=True):
        width = part["input_ids"].shape[1]
        for key in ("input_ids", "attention_mask", "labels"):
            whole = batch[key][start : start + len(part[key])]
            assert torch.equal(part[key], whole[:, :width]), key
            # Only columns that are padding in every row of the part were dropped.
            assert int(batch["attention_mask"][start : start + len(part[key]), width:].sum()) == 0
        assert int(part["attention_mask"][:, -1].sum()) > 0  # the last kept column is used
    with pytest.raises(ValueError, match="at least one row"):
        next(micro_batches(batch, 0))


def test_a_negative_micro_batch_size_is_refused() -> None:
    with pytest.raises(TrainConfigError, match="--micro-batch-size >= 0"):
        TrainConfig(data=["x.jsonl"], out="runs/x", micro_batch_size=-1)


def step_gradients(
    model: Any, batch: dict[str, Any], rows: int, positions_only: bool, out: Path
) -> Any:
    """The LoRA gradients of one Trainer training step over ``batch``, ``rows`` rows a pass."""
    from transformers import Trainer, TrainingArguments

    from finetune.loss import LossPositions, selected_loss
    from finetune.train import _loss_positions_trainer

    positions = LossPositions(model) if positions_only else None
    base = Trainer if positions is None else _loss_positions_trainer(Trainer, positions)
    args = TrainingArguments(output_dir=str(out), report_to="none", use_cpu=True)
    trainer = micro_batch_trainer(base, rows)(
        model=model, args=args, compute_loss_func=selected_loss if positions_only else None
    )
    trainer.current_gradient_accumulation_steps = 1
    count = target_mask(batch["labels"]).sum()
    loss = trainer.training_step(model, dict(batch), num_items_in_batch=count)
    if positions is not None:
        positions.remove()
    return float(loss), grads(model)


@pytest.mark.parametrize("positions_only", [True, False])
def test_micro_batches_give_the_batchs_gradient(
    tiny_model: Path,  # noqa: F811
    positions_only: bool,
    tmp_path: Path,
) -> None:
    """One step over 5 rows of different lengths, whole and 2 rows a pass, with either loss:
    the same loss and the same gradient for every LoRA weight."""
    model = lora_model(tiny_model)
    batch = padded_batch(5)
    whole_loss, whole = step_gradients(model, batch, 5, positions_only, tmp_path)
    micro_loss, micro = step_gradients(model, batch, 2, positions_only, tmp_path)
    assert micro_loss == pytest.approx(whole_loss, rel=1e-5)
    assert set(micro) == set(whole) and len(whole) > 0
    for name, grad in whole.items():
        torch.testing.assert_close(micro[name], grad, rtol=1e-4, atol=1e-7, msg=name)
    assert any(g.abs().sum() > 0 for g in whole.values())


def test_training_with_micro_batches_reports_the_same_loss(
    tiny_model: Path,  # noqa: F811
    data_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Through ``moss-agent train``'s own path: batches of 4 with gradient accumulation, run
    whole and one row a pass, report the same losses and train LoRA weights that agree to what
    Adam makes of rounding (it divides each gradient by its own size, so a weight whose
    gradient is near zero moves by up to the learning rate either way)."""
    from safetensors.torch import load_file

    runs = {}
    for rows in (4, 1):
        config = quick_config(
            tiny_model,
            data_file,
            tmp_path / f"run-{rows}",
            micro_batch_size=rows,
            grad_accum=2,
            batch_size=4,
            max_steps=3,
            save_steps=0,
            eval_steps=0,
        )
        result = train(config)
        runs[rows] = (result, load_file(str(result.out / "adapter_model.safetensors")))
    (whole, whole_weights), (micro, micro_weights) = runs[4], runs[1]
    assert micro.train_loss == pytest.approx(whole.train_loss, rel=1e-4)
    assert set(micro_weights) == set(whole_weights)
    for name, weight in whole_weights.items():
        torch.testing.assert_close(micro_weights[name], weight, rtol=0, atol=3e-3, msg=name)
    assert any(w.abs().sum() > 0 for n, w in micro_weights.items() if "lora_B" in n)
