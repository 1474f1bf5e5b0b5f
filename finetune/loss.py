"""The causal-LM loss with the output head run only where a token carries loss.

A model's own loss runs its output head over every position of every row, then throws most of
it away: in MOSS-format training data about 72% of the tokens are the meta-instruction, Human
text, plugin results or padding, whose labels are ``IGNORE_INDEX``. For a small model the head
is a large share of the work (SmolLM2-135M: 28 M of its 135 M weights; Gemma 3 270M: 168 M of
268 M), and its float32 logits are the largest tensors of a step (batch x length x vocabulary).

``LossPositions`` puts a forward pre-hook on the output head that keeps only the hidden states
whose next token carries loss, so the head sees ``[1, N, hidden]`` instead of
``[batch, length, hidden]``. The model's forward pass is otherwise untouched (the hook runs
inside it, so DDP, accelerate and any per-architecture logit scaling or soft-capping still
apply). ``selected_loss`` is then the usual shifted cross-entropy over those N logits: the same
loss and the same gradients as the model's own, to rounding.

    positions = LossPositions(model)
    with positions.only(labels):
        outputs = model(input_ids=ids, attention_mask=mask)
    loss = selected_loss(outputs, labels)

``finetune.train`` does this through the Trainer (``loss_positions_only``, on by default).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from finetune.data import IGNORE_INDEX


def target_mask(labels: Any) -> Any:
    """Which positions predict a token that carries loss: ``labels[:, 1:] != IGNORE_INDEX``.

    Position t's logits predict token t + 1, so the last position never has a target.
    """
    return labels[:, 1:] != IGNORE_INDEX


class LossPositions:
    """A pre-hook on ``model``'s output head that, inside ``only(labels)``, feeds it only the
    hidden states of the positions that predict a loss-carrying token. Outside ``only`` the
    model runs as it always does."""

    def __init__(self, model: Any) -> None:
        head = model.get_output_embeddings()
        if head is None:
            raise ValueError(
                f"{type(model).__name__} has no output embeddings to restrict; train it with "
                "--no-loss-positions-only."
            )
        self._mask: Any = None
        self._handle = head.register_forward_pre_hook(self._keep)

    def _keep(self, module: Any, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if self._mask is None:
            return None
        hidden, *rest = args
        if hidden.dim() != 3 or hidden.shape[1] != self._mask.shape[1] + 1:
            # The head was handed something other than the full sequence (a model that slices
            # it first): selecting from it would pair logits with the wrong labels.
            raise RuntimeError(
                f"the output head got hidden states of shape {tuple(hidden.shape)} for labels "
                f"of length {self._mask.shape[1] + 1}; train this model with "
                "--no-loss-positions-only."
            )
        return (hidden[:, :-1][self._mask].unsqueeze(0), *rest)

    @contextmanager
    def only(self, labels: Any) -> Iterator[None]:
        """Within this block, the head's output is ``[1, N, vocab]``: the N positions of
        ``target_mask(labels)`` in row-major order."""
        self._mask = target_mask(labels)
        try:
            yield
        finally:
            self._mask = None

    def remove(self) -> None:
        """Take the hook off the head; the model is as it was before."""
        self._handle.remove()


def selected_loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
    """Cross-entropy of the head's selected logits against their targets.

    ``num_items_in_batch`` (the Trainer's count of loss tokens across a whole accumulated
    batch) makes it a sum over that count, as the model's own loss does under gradient
    accumulation; without it, the mean over this batch's targets.
    """
    import torch.nn.functional as F

    logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
    logits = logits.reshape(-1, logits.shape[-1]).float()
    targets = labels[:, 1:][target_mask(labels)].to(logits.device)
    if logits.shape[0] != targets.shape[0]:
        raise RuntimeError(
            f"{logits.shape[0]} logits for {targets.shape[0]} targets: the forward pass ran "
            "outside LossPositions.only(labels)."
        )
    total = F.cross_entropy(logits, targets, reduction="sum")
    if num_items_in_batch is None:
        return total / max(targets.shape[0], 1)
    if hasattr(num_items_in_batch, "to"):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch
