"""Training tokens: a ``Conversation`` rendered, tokenized and labelled for the loss.

Loss goes exactly on what the model writes at inference time: after the prompt's
``<|Inner Thoughts|>:`` it writes `` thoughts<eot>\\n<|Commands|>: commands<eoc>``; after
``<|MOSS|>:`` it writes `` reply<eom>``. Everything else carries no loss: the meta-instruction,
the Human line (the user writes it), the Results block (the plugins write it) and the markers
that end each prompt. The terminators carry loss, so the model learns to stop.

The whole text is tokenized in one call, as inference tokenizes a prompt, and labels are set by
character spans through the offset mapping: a token is trained when its first character lies in
a span the model writes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from finetune.data.records import LoadReport
from moss_core import protocol
from moss_core.errors import ConversationError
from moss_core.protocol import Conversation

IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips


# ---------------------------------------------------------------------------------------------
# Conversation -> text, spans, tokens
# ---------------------------------------------------------------------------------------------


@dataclass
class RenderedConversation:
    """The training text and, as character offsets into it, what the model writes.

    ``spans``: ``[start, end)`` ranges that carry loss; ``turn_ends``: where each turn's text
    ends (truncation cuts only there); ``prompt_ends``: where each inference prompt ends.
    """

    text: str
    spans: list[tuple[int, int]]
    turn_ends: list[int]
    prompt_ends: list[int]


_SHAPES = {  # kind -> (start, end) every rendered segment of that kind has
    "thoughts": (protocol.THOUGHTS + ":", protocol.EOT + "\n"),
    "commands": (protocol.COMMANDS + ":", protocol.EOC + "\n"),
    "reply": (protocol.MOSS + ":", protocol.EOM + "\n"),
}


def _check_segment_shape(seg: protocol.Segment) -> None:
    # The spans below count characters from these ends; fail loudly if the protocol changes.
    head, tail = _SHAPES.get(seg.kind, ("", ""))
    if not (seg.text.startswith(head) and seg.text.endswith(tail)):
        raise ConversationError(
            f"moss_core.protocol.segments renders a {seg.kind} part as {seg.text[:40]!r}..., not "
            f"{head!r}...{tail!r}: update finetune.data.render_for_training to the new shape."
        )


def render_for_training(conversation: Conversation) -> RenderedConversation:
    """Render through ``protocol.segments`` and mark the spans the model writes.

    >>> from moss_core.protocol import Exchange
    >>> r = render_for_training(Conversation("M\\n", [Exchange("Hi", "greet", reply="Yo")]))
    >>> [r.text[a:b] for a, b in r.spans]
    [' greet<eot>\\n<|Commands|>: None<eoc>', ' Yo<eom>']
    """
    parts: list[str] = [conversation.meta_instruction]
    pos = len(conversation.meta_instruction)
    spans: list[tuple[int, int]] = []
    turn_ends: list[int] = []
    prompt_ends: list[int] = []
    for ex in conversation.exchanges:
        for seg in protocol.segments(ex):
            _check_segment_shape(seg)
            start, end = pos, pos + len(seg.text)
            if seg.kind == "thoughts":
                # The prompt ends with "<|Inner Thoughts|>:"; the model writes on from there,
                # through "\n<|Commands|>: ...<eoc>" (the commands segment, joined below).
                begin = start + len(protocol.THOUGHTS) + 1
                prompt_ends.append(begin)
                spans.append((begin, end))
            elif seg.kind == "commands":
                # Phase 1 stops at <eoc>; the newline after it is written by the program.
                spans[-1] = (spans[-1][0], end - 1)
            elif seg.kind == "reply":
                begin = start + len(protocol.MOSS) + 1
                prompt_ends.append(begin)
                spans.append((begin, end - 1))  # phase 2 stops at <eom>
            parts.append(seg.text)
            pos = end
        turn_ends.append(pos)
    return RenderedConversation("".join(parts), spans, turn_ends, prompt_ends)


def _token_labels(
    ids: Sequence[int],
    offsets: Sequence[tuple[int, int]],
    special: Sequence[int],
    spans: Sequence[tuple[int, int]],
) -> tuple[list[int], list[int], int]:
    """Labels by span, each token's position for cutting, and tokens crossing a prompt end."""
    import numpy as np  # vectorised: a Python loop here costs more than the tokenizer

    tokens = np.asarray(ids, dtype=np.int64)
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    is_special = np.asarray(special, dtype=bool)
    first, last = off[:, 0], off[:, 1]
    starts = np.asarray([a for a, _ in spans] + [1 << 62], dtype=np.int64)  # sentinel span
    ends = np.asarray([b for _, b in spans] + [1 << 62], dtype=np.int64)
    k = np.searchsorted(starts, first, side="right") - 1
    trained = (k >= 0) & (first < ends[np.maximum(k, 0)]) & ~is_special
    labels = np.where(trained, tokens, IGNORE_INDEX)
    # Specials (BOS/EOS) sit at (0, 0): place them before or after all text.
    seen_text = np.cumsum(~is_special) > 0
    positions = np.where(is_special, np.where(seen_text, 1 << 62, -1), first)
    # A token that begins in the prompt and ends inside a span: inference cannot produce it.
    following = starts[k + 1]
    crossing = int(np.sum(~is_special & (first < following) & (following < last)))
    return labels.tolist(), positions.tolist(), crossing


def encode_conversation(
    tokenizer: Any,
    conversation: Conversation,
    max_length: int,
    report: LoadReport | None = None,
    *,
    where: str = "",
    encoding: Any = None,
) -> dict[str, list[int]] | None:
    """Token ids and labels for one conversation, or ``None`` (counted in ``report``) if unusable.

    Needs a fast tokenizer (offset mapping). Longer than ``max_length``: later turns are
    dropped; if the first turn alone is too long it is cut, provided it keeps a trained token.

    >>> ex = encode_conversation(tok, conv, max_length=512)  # doctest: +SKIP
    >>> sorted(ex)  # doctest: +SKIP
    ['input_ids', 'labels']
    """
    report = report if report is not None else LoadReport()
    rendered = render_for_training(conversation)
    enc = encoding
    if enc is None:
        enc = tokenizer(rendered.text, return_offsets_mapping=True, return_special_tokens_mask=True)
    ids = list(enc["input_ids"])
    labels, positions, crossing = _token_labels(
        ids, enc["offset_mapping"], enc["special_tokens_mask"], rendered.spans
    )
    if crossing:
        report.adjusted["tokens crossing a prompt end"] += crossing
    keep = len(ids)
    if keep > max_length:
        # Tokens before each turn's end; keep the most whole turns that fit.
        cuts = [bisect.bisect_left(positions, end) for end in rendered.turn_ends]
        fitting = [c for c in cuts if c <= max_length]
        if fitting:
            keep = fitting[-1]
            report.adjusted["later turns dropped"] += 1
        else:
            keep = max_length
            if all(label == IGNORE_INDEX for label in labels[:keep]):
                report.skip("no trained token within max_length", where, f"{len(ids)} tokens")
                return None
            report.adjusted["first turn cut"] += 1
    return {"input_ids": ids[:keep], "labels": labels[:keep]}


def build_examples(
    tokenizer: Any,
    conversations: Sequence[Conversation],
    max_length: int,
    report: LoadReport | None = None,
    *,
    batch_size: int = 256,
) -> list[dict[str, list[int]]]:
    """Encode many conversations (the tokenizer works on batches, in Rust, in parallel).

    >>> examples = build_examples(tok, conversations, max_length=1024)  # doctest: +SKIP
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ConversationError(
            f"{type(tokenizer).__name__} is not a fast tokenizer, so it gives no offset mapping "
            "to place the loss by. Load it with AutoTokenizer.from_pretrained(..., use_fast=True) "
            "or convert it to a tokenizer.json."
        )
    examples: list[dict[str, list[int]]] = []
    for first in range(0, len(conversations), batch_size):
        chunk = conversations[first : first + batch_size]
        texts = [render_for_training(c).text for c in chunk]
        batch = tokenizer(texts, return_offsets_mapping=True, return_special_tokens_mask=True)
        for i, conversation in enumerate(chunk):
            enc = {key: batch[key][i] for key in batch}
            example = encode_conversation(
                tokenizer, conversation, max_length, report, where=f"#{first + i}", encoding=enc
            )
            if example is not None:
                examples.append(example)
    return examples


@dataclass
class PadCollator:
    """Pads a batch on the right: ids with ``pad_token_id``, labels with -100, attention 0.

    >>> PadCollator(0)([{"input_ids": [5, 6], "labels": [-100, 6]}, {"input_ids": [7],
    ...                 "labels": [7]}])["labels"].tolist()
    [[-100, 6], [7, -100]]
    """

    pad_token_id: int
    pad_to_multiple_of: int | None = None  # 8 suits tensor cores on GPUs

    def __call__(self, features: Sequence[dict[str, Sequence[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        n = len(features)
        input_ids = torch.full((n, width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((n, width), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((n, width), dtype=torch.long)
        for row, f in enumerate(features):
            length = len(f["input_ids"])
            input_ids[row, :length] = torch.tensor(f["input_ids"], dtype=torch.long)
            labels[row, :length] = torch.tensor(f["labels"], dtype=torch.long)
            attention[row, :length] = 1
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
