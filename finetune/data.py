"""Training data: MOSS records in, token ids with loss labels out.

Two record formats are read, from ``.json`` files (one record, or a list), ``.jsonl`` files (one
record a line) and folders of them (recursively):

- MOSS's plugin SFT format (moss-003-sft-plugin-data)::

    {"meta_instruction": "...", "num_turns": 1, "chat": {"turn_1": {
        "Human": "<|Human|>: What is 4/7?<eoh>\\n", "Inner Thoughts": "<|Inner Thoughts|>: ...",
        "Commands": "...", "Tool Responses": "<|Results|>:\\n...\\n<eor>\\n", "MOSS": "..."}}}

- this project's own format, written by ``write_conversations`` (synthetic data)::

    {"meta_instruction": "...", "turns": [{"human": "What is 4/7?", "thoughts": "...",
        "commands": "Calculate(\\"4/7\\")", "results": "...", "reply": "4/7 is about 0.5714."}]}

Both become ``agent.protocol.Conversation``. Bad records are skipped and counted by reason in a
``LoadReport``; training never meets them.

Text is rendered only through ``agent.protocol.segments``, so training text is inference text.
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
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import protocol
from agent.errors import ConversationError
from agent.files import atomic_text_file
from agent.protocol import Capability, Conversation, Exchange

__all__ = [
    "IGNORE_INDEX",
    "BadRecord",
    "Conversation",
    "LoadReport",
    "PadCollator",
    "RenderedConversation",
    "atomic_text_file",
    "build_examples",
    "encode_conversation",
    "load_conversations",
    "parse_moss_record",
    "parse_record",
    "read_conversations",
    "rebuild_meta_instruction",
    "render_for_training",
    "write_conversations",
]

IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips
RECORD_SUFFIXES = (".json", ".jsonl")

# MOSS field name -> (Exchange attribute, role marker, terminator).
MOSS_FIELDS = {
    "Human": ("human", protocol.HUMAN, protocol.EOH),
    "Inner Thoughts": ("thoughts", protocol.THOUGHTS, protocol.EOT),
    "Commands": ("commands", protocol.COMMANDS, protocol.EOC),
    "Tool Responses": ("results", protocol.RESULTS, protocol.EOR),
    "MOSS": ("reply", protocol.MOSS, protocol.EOM),
}
TURN_KEYS = ("human", "thoughts", "commands", "results", "reply")
_MOSS_FIELD = re.compile(r"(?P<marker><\|[^|<>\n]+\|>):(?P<body>.*?)(?P<end><eo\w>)\n?", re.DOTALL)
_MARKERS = re.compile("|".join(re.escape(m) for m in protocol.ROLE_MARKERS + protocol.TERMINATORS))
_ENABLED_API = re.compile(r"^- (?P<label>[^:\n]+): enabled\. API: (?P<api>.+)$", re.MULTILINE)


# ---------------------------------------------------------------------------------------------
# Reports and errors
# ---------------------------------------------------------------------------------------------


class BadRecord(ConversationError):
    """One record that cannot be used; ``reason`` is a short category for counting."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass
class LoadReport:
    """What loading and encoding kept, skipped (by reason) and shortened (by kind).

    >>> r = LoadReport(); r.skip("missing field", "a.json", "chat.turn_1.MOSS"); r.skipped
    Counter({'missing field': 1})
    """

    loaded: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    adjusted: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # "where: reason: detail", a few per reason
    max_samples_per_reason: int = 3

    def skip(self, reason: str, where: str, detail: str = "") -> None:
        self.skipped[reason] += 1
        if self.skipped[reason] <= self.max_samples_per_reason:
            self.samples.append(f"{where}: {reason}" + (f": {detail}" if detail else ""))

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        """One line for logs: ``250 loaded, 2 skipped (bad markers: 2), adjusted: ...``."""
        text = f"{self.loaded} loaded, {self.total_skipped} skipped"
        if self.skipped:
            text += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items())) + ")"
        if self.adjusted:
            text += "; " + ", ".join(f"{k}: {v}" for k, v in sorted(self.adjusted.items()))
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "skipped": dict(self.skipped),
            "adjusted": dict(self.adjusted),
            "samples": list(self.samples),
        }


# ---------------------------------------------------------------------------------------------
# Records -> Conversation
# ---------------------------------------------------------------------------------------------


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BadRecord("wrong type", f"{where} is {type(value).__name__}, not a string")
    return value


def _check_inert(text: str, where: str) -> str:
    # A marker inside a body would let the text end a part early and train the wrong stop.
    found = _MARKERS.search(text)
    if found:
        raise BadRecord("marker inside text", f"{where} contains {found.group()}")
    return text


def _moss_body(raw: str, name: str, where: str) -> str:
    _, marker, terminator = MOSS_FIELDS[name]
    m = _MOSS_FIELD.fullmatch(raw)
    if m is None or m.group("marker") != marker or m.group("end") != terminator:
        raise BadRecord("bad markers", f"{where} is not {marker}: ...{terminator}: {raw[:60]!r}")
    body = m.group("body")
    if name == "Tool Responses" and body.startswith("\n"):
        body = body[1:]
        body = body[:-1] if body.endswith("\n") else body
    elif body.startswith(" "):
        body = body[1:]
    return _check_inert(body, where)


def _record_meta(record: Any, turns_key: str) -> str:
    """Check a record's outer shape (an object with a meta-instruction and ``turns_key``) and
    return its meta-instruction; the checks both record formats share."""
    if not isinstance(record, dict):
        raise BadRecord("not an object", f"a record is {type(record).__name__}")
    for key in ("meta_instruction", turns_key):
        if key not in record:
            raise BadRecord("missing field", key)
    return _check_inert(_text(record["meta_instruction"], "meta_instruction"), "meta_instruction")


def parse_moss_record(record: Any) -> Conversation:
    """One MOSS plugin-SFT record as a Conversation; raises ``BadRecord`` saying why not.

    >>> turn = {"Human": "<|Human|>: Hi<eoh>\\n",
    ...         "Inner Thoughts": "<|Inner Thoughts|>: x<eot>\\n",
    ...         "Commands": "<|Commands|>: None<eoc>\\n",
    ...         "Tool Responses": "<|Results|>:\\nNone\\n<eor>\\n",
    ...         "MOSS": "<|MOSS|>: Hello<eom>\\n"}
    >>> record = {"meta_instruction": "M\\n", "num_turns": 1, "chat": {"turn_1": turn}}
    >>> c = parse_moss_record(record)
    >>> (c.exchanges[0].human, c.exchanges[0].reply)
    ('Hi', 'Hello')
    """
    meta = _record_meta(record, "chat")
    chat = record["chat"]
    if not isinstance(chat, dict):
        raise BadRecord("wrong type", f"chat is {type(chat).__name__}, not an object")
    num_turns = record.get("num_turns", len(chat))
    if not isinstance(num_turns, int) or isinstance(num_turns, bool):
        raise BadRecord("wrong type", f"num_turns is {type(num_turns).__name__}, not an integer")
    if num_turns != len(chat):
        raise BadRecord("num_turns mismatch", f"num_turns={num_turns} but {len(chat)} turns")
    if not chat:
        raise BadRecord("no turns")
    exchanges = []
    for k in range(1, num_turns + 1):
        turn = chat.get(f"turn_{k}")
        if turn is None:
            raise BadRecord("missing field", f"chat.turn_{k}")
        if not isinstance(turn, dict):
            raise BadRecord("wrong type", f"chat.turn_{k} is {type(turn).__name__}")
        values = {}
        for name, (attr, _, _) in MOSS_FIELDS.items():
            where = f"chat.turn_{k}.{name}"
            if name not in turn:
                raise BadRecord("missing field", where)
            values[attr] = _moss_body(_text(turn[name], where), name, where)
        exchanges.append(Exchange(**values))
    return Conversation(meta_instruction=meta, exchanges=exchanges)


def parse_project_record(record: Any) -> Conversation:
    """One record of this project's JSONL format; raises ``BadRecord`` saying why not.

    ``human`` and ``reply`` are required; ``thoughts`` defaults to "", ``commands`` and
    ``results`` to "None".
    """
    meta = _record_meta(record, "turns")
    turns = record["turns"]
    if not isinstance(turns, list):
        raise BadRecord("wrong type", f"turns is {type(turns).__name__}, not a list")
    if not turns:
        raise BadRecord("no turns")
    exchanges = []
    for k, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise BadRecord("wrong type", f"turns[{k}] is {type(turn).__name__}")
        values = {}
        for key in TURN_KEYS:
            where = f"turns[{k}].{key}"
            if key not in turn:
                if key in ("human", "reply"):
                    raise BadRecord("missing field", where)
                continue
            values[key] = _check_inert(_text(turn[key], where), where)
        exchanges.append(Exchange(**values))
    return Conversation(meta_instruction=meta, exchanges=exchanges)


def parse_record(record: Any) -> Conversation:
    """Either format, told apart by its keys: ``chat`` (MOSS) or ``turns`` (this project)."""
    if isinstance(record, dict) and "chat" in record:
        return parse_moss_record(record)
    if isinstance(record, dict) and "turns" in record:
        return parse_project_record(record)
    if isinstance(record, dict):
        raise BadRecord("unknown format", f"keys {sorted(record)[:6]}: expected chat or turns")
    raise BadRecord("not an object", f"a record is {type(record).__name__}")


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _record_files(path: Path) -> list[Path]:
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.suffix in RECORD_SUFFIXES and p.is_file()]
        return sorted(p for p in found if not p.name.startswith("."))
    if path.is_file():
        return [path]
    raise ConversationError(f"No training data at {path}: pass an existing file or folder.")


def _raw_records(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, record)``; ``record`` is a ``BadRecord`` for what could not be read."""
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield str(path), BadRecord("not UTF-8", str(exc))
            return
        except json.JSONDecodeError as exc:
            yield str(path), BadRecord("bad JSON", str(exc))
            return
        if isinstance(data, list):
            for i, record in enumerate(data):
                yield f"{path}[{i}]", record
        else:
            yield str(path), data
        return
    with path.open("rb") as f:  # JSON Lines: a bad line costs that line only
        for number, raw in enumerate(f, start=1):
            where = f"{path}:{number}"
            if not raw.strip():
                continue
            try:
                yield where, json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield where, BadRecord("not UTF-8", str(exc))
            except json.JSONDecodeError as exc:
                yield where, BadRecord("bad JSON", str(exc))


def read_conversations(
    path: str | os.PathLike[str], report: LoadReport | None = None
) -> list[Conversation]:
    """The conversations in one file or folder, in either format.

    Without ``report`` a bad record raises ``ConversationError`` (naming file and line); with
    one, bad records are skipped and counted there.

    >>> write_conversations("/tmp/c.jsonl", [Conversation("M\\n", [Exchange("Hi", reply="Yo")])])
    1
    >>> read_conversations("/tmp/c.jsonl")[0].exchanges[0].reply
    'Yo'
    """
    out: list[Conversation] = []
    for file in _record_files(Path(path)):
        for where, record in _raw_records(file):
            try:
                if isinstance(record, BadRecord):
                    raise record
                out.append(parse_record(record))
            except BadRecord as bad:
                if report is None:
                    raise ConversationError(
                        f"{where}: {bad}. Fix or remove this record, or pass a LoadReport to "
                        "skip bad records."
                    ) from bad
                report.skip(bad.reason, where, bad.detail)
                continue
            if report is not None:
                report.loaded += 1
    return out


def load_conversations(
    paths: Iterable[str | os.PathLike[str]],
) -> tuple[list[Conversation], LoadReport]:
    """Every conversation under ``paths``, skipping bad records into the returned report.

    >>> convs, report = load_conversations(["../shared/moss_samples"])  # doctest: +SKIP
    >>> report.summary()  # doctest: +SKIP
    '250 loaded, 0 skipped'
    """
    report = LoadReport()
    conversations: list[Conversation] = []
    for path in paths:
        conversations += read_conversations(path, report)
    return conversations, report


def conversation_to_dict(conversation: Conversation) -> dict[str, Any]:
    """The project's JSONL schema for one conversation."""
    return {
        "meta_instruction": conversation.meta_instruction,
        "turns": [{key: getattr(ex, key) for key in TURN_KEYS} for ex in conversation.exchanges],
    }


def write_conversations(path: str | os.PathLike[str], conversations: Iterable[Conversation]) -> int:
    """Write conversations as JSONL, atomically (a crash keeps the old file); return the count.

    >>> write_conversations("/tmp/one.jsonl", [Conversation("M\\n", [Exchange("Hi", reply="Yo")])])
    1
    """
    count = 0
    with atomic_text_file(path) as f:
        for conversation in conversations:
            f.write(json.dumps(conversation_to_dict(conversation), ensure_ascii=False) + "\n")
            count += 1
    return count


def rebuild_meta_instruction(meta_instruction: str, preset: protocol.Preset) -> str:
    """The same tools, listed with another ``agent.protocol`` preset.

    Small models pay for every token of MOSS's long system text; ``short`` keeps the tool
    list (what decides the Commands) and drops the rest.

    >>> rebuild_meta_instruction(protocol.MOSS_META_INSTRUCTION, "short").count("enabled. API")
    3
    """
    found = _ENABLED_API.finditer(meta_instruction)
    caps = [Capability(m["label"], m["api"].strip()) for m in found]
    return protocol.build_meta_instruction(caps, preset)


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
            f"agent.protocol.segments renders a {seg.kind} part as {seg.text[:40]!r}..., not "
            f"{head!r}...{tail!r}: update finetune.data.render_for_training to the new shape."
        )


def render_for_training(conversation: Conversation) -> RenderedConversation:
    """Render through ``protocol.segments`` and mark the spans the model writes.

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
