"""One batch's gradient from several smaller forward passes (micro-batches).

On a CPU, a LoRA step's memory is the activations the backward pass keeps: for the default
model at batch 8 x 448 tokens, about 6.5 GB of a 9.5 GB peak. They grow with the rows of one
forward pass, while the time of a step hardly depends on how its rows are grouped (the
matrices of one row of 448 tokens are already large enough for the CPU's kernels). So the
Trainer's batch is cut into micro-batches of a few rows, each run forward and backward in
turn, and their gradients add up in place before the optimizer step.

The result is the batch's gradient, not an approximation: the loss of a micro-batch is its
sum of token losses divided by the count of loss tokens in the whole accumulated batch (the
Trainer's ``num_items_in_batch``), so the micro-batches' gradients sum to the batch's. Each
micro-batch also drops the right padding it does not need.

``finetune.train`` uses it through ``--micro-batch-size`` (0, the default: one row at a time on a
CPU, the whole batch on an accelerator, where memory is spent for speed).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

# Rows per forward pass on a CPU when --micro-batch-size is 0. benchmarks/bench_train_memory.py,
# batch 8 x 448 tokens on 2 cores: 1 row peaks at 3.5 GB, 2 rows at 4.3, 4 at 5.8, the whole
# batch at 9.5, all within 4% of the whole batch's step time.
CPU_ROWS = 1


def micro_batches(inputs: dict[str, Any], rows: int) -> Iterator[dict[str, Any]]:
    """``inputs`` (tensors of ``[batch, length]``) cut into consecutive groups of ``rows`` rows,
    each without the trailing columns that are padding in all of its rows.

    >>> import torch
    >>> batch = {"input_ids": torch.tensor([[1, 2, 3], [4, 0, 0], [5, 6, 0]]),
    ...          "attention_mask": torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0]])}
    >>> [part["input_ids"].tolist() for part in micro_batches(batch, 2)]
    [[[1, 2, 3], [4, 0, 0]], [[5, 6]]]
    """
    if rows < 1:
        raise ValueError(f"rows={rows}: a micro-batch needs at least one row.")
    n = next(iter(inputs.values())).shape[0]
    for start in range(0, n, rows):
        part = {key: value[start : start + rows] for key, value in inputs.items()}
        mask = part.get("attention_mask")
        if mask is not None and mask.dim() == 2:
            used = mask.any(dim=0).nonzero()
            width = int(used[-1]) + 1 if len(used) else 1
            if width < mask.shape[1]:
                part = {
                    key: value[:, :width] if value.dim() == 2 else value
                    for key, value in part.items()
                }
        yield part


def micro_batch_trainer(trainer: type[Any], rows: int) -> type[Any]:
    """``trainer`` whose training step runs its batch ``rows`` rows at a time (see above)."""

    class MicroBatchTrainer(trainer):
        _warned = False

        def training_step(
            self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None
        ) -> Any:
            batch = next(iter(inputs.values())).shape[0]
            if batch <= rows:
                return super().training_step(model, inputs, num_items_in_batch)
            if num_items_in_batch is None:
                # Without the batch's count of loss tokens, each pass would be averaged on its
                # own and the sum would weigh short rows wrongly: run the batch whole.
                if not MicroBatchTrainer._warned:
                    log.warning("no loss-token count from the Trainer: batches run whole")
                    MicroBatchTrainer._warned = True
                return super().training_step(model, inputs, num_items_in_batch)
            parts = list(micro_batches(inputs, rows))
            total = None
            for i, part in enumerate(parts):
                # Several processes: all-reduce the gradients once, after the last pass.
                last = i == len(parts) - 1
                sync = (
                    self.accelerator.no_sync(model)
                    if not last and self.accelerator.num_processes > 1
                    else contextlib.nullcontext()
                )
                with sync:
                    loss = super().training_step(model, part, num_items_in_batch)
                total = loss if total is None else total + loss
            return total

    return MicroBatchTrainer


def resolve_rows(setting: int, batch_size: int, accelerated: bool) -> int:
    """Rows per forward pass: ``setting`` if given, else ``CPU_ROWS`` on a CPU and the whole
    batch on an accelerator; never more than the batch.

    >>> resolve_rows(0, 8, False), resolve_rows(0, 8, True), resolve_rows(4, 8, False)
    (1, 8, 4)
    """
    rows = setting or (batch_size if accelerated else CPU_ROWS)
    return min(rows, batch_size)
