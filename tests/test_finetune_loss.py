"""finetune.loss on a tiny real Llama with LoRA: the head on loss positions only gives the
model's own loss and gradients, alone and through the Trainer. No mocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from finetune.data import IGNORE_INDEX, PadCollator, build_examples, rebuild_meta_instruction
from finetune.loss import LossPositions, selected_loss, target_mask
from finetune.train import train
from tests.test_finetune_data import sample_conversations, tiny_tokenizer
from tests.test_finetune_train import data_file, quick_config, tiny_model  # noqa: F401


def lora_model(folder: Path) -> Any:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM")
    model = get_peft_model(base, lora)
    # LoRA's B starts at zero, so its A would get no gradient: move B off zero to compare both.
    for name, p in model.named_parameters():
        if "lora_B" in name:
            p.data.normal_(0, 0.02)
    return model


def padded_batch(n: int = 4) -> dict[str, Any]:
    """Rows of different lengths (right padding) whose labels mask prompt and results."""
    tokenizer = tiny_tokenizer()
    convs = sample_conversations(n)
    short = rebuild_meta_instruction(convs[0].meta_instruction, "short")
    examples = build_examples(tokenizer, [type(c)(short, c.exchanges) for c in convs], 1024)
    batch: dict[str, Any] = PadCollator(tokenizer.pad_token_id or 0)(examples)
    return batch


def grads(model: Any) -> dict[str, torch.Tensor]:
    out = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return out


def test_same_loss_and_gradients_as_the_models_own(tiny_model: Path) -> None:  # noqa: F811
    model = lora_model(tiny_model)
    batch = padded_batch()
    labels = batch["labels"]
    mask = target_mask(labels)
    assert 0 < int(mask.sum()) < mask.numel() // 2  # most positions carry no loss here

    own = model(**batch).loss
    own.backward()
    reference = grads(model)

    positions = LossPositions(model)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with positions.only(labels):
        outputs = model(**inputs)
    assert outputs.logits.shape[:2] == (1, int(mask.sum()))  # the head saw the loss rows only
    loss = selected_loss(outputs, labels)
    loss.backward()
    ours = grads(model)

    torch.testing.assert_close(loss, own, rtol=1e-5, atol=1e-6)
    assert set(ours) == set(reference) and len(ours) > 0
    assert any("lora_A" in n for n in ours) and any("lora_B" in n for n in ours)
    for name, grad in reference.items():
        torch.testing.assert_close(ours[name], grad, rtol=1e-4, atol=1e-7, msg=name)

    # Summed over a larger count (gradient accumulation), it scales accordingly.
    n = int(mask.sum())
    with positions.only(labels):
        halved = selected_loss(model(**inputs), labels, num_items_in_batch=torch.tensor(2 * n))
    torch.testing.assert_close(halved, own / 2, rtol=1e-5, atol=1e-6)

    # Outside ``only`` and after ``remove`` the head runs everywhere, as before.
    full = model(**inputs).logits
    assert full.shape[:2] == labels.shape
    positions.remove()
    assert model(**inputs).logits.shape[:2] == labels.shape


def test_a_batch_without_loss_tokens_gives_zero(tiny_model: Path) -> None:  # noqa: F811
    model = lora_model(tiny_model)
    batch = padded_batch(2)
    labels = torch.full_like(batch["labels"], IGNORE_INDEX)
    positions = LossPositions(model)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with positions.only(labels):
        loss = selected_loss(model(**inputs), labels)
    assert float(loss.detach()) == 0.0


def test_a_head_given_a_slice_is_refused(tiny_model: Path) -> None:  # noqa: F811
    model = lora_model(tiny_model)
    batch = padded_batch(2)
    positions = LossPositions(model)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with positions.only(batch["labels"]), pytest.raises(RuntimeError, match="no-loss-positions"):
        model(**inputs, logits_to_keep=1)  # the model hands the head one position per row
    with pytest.raises(RuntimeError, match=r"outside LossPositions\.only"):
        selected_loss(model(**inputs), batch["labels"])


def test_training_matches_the_models_own_loss(
    tiny_model: Path,  # noqa: F811
    data_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Same seed, same data, gradient accumulation and an eval split: the two losses train the
    same LoRA weights and report the same losses."""
    from safetensors.torch import load_file

    runs = {}
    for only in (True, False):
        config = quick_config(
            tiny_model,
            data_file,
            tmp_path / f"run-{only}",
            loss_positions_only=only,
            grad_accum=2,
            batch_size=2,
            max_steps=3,
            save_steps=0,
            eval_steps=0,
        )
        result = train(config)
        runs[only] = (result, load_file(str(result.out / "adapter_model.safetensors")))
    (fast, fast_weights), (slow, slow_weights) = runs[True], runs[False]
    assert fast.train_loss == pytest.approx(slow.train_loss, rel=1e-4)
    assert fast.eval_loss == pytest.approx(slow.eval_loss, rel=1e-4)
    assert set(fast_weights) == set(slow_weights)
    for name, weight in slow_weights.items():
        torch.testing.assert_close(fast_weights[name], weight, rtol=1e-3, atol=1e-5, msg=name)
    assert any(w.abs().sum() > 0 for n, w in fast_weights.items() if "lora_B" in n)
