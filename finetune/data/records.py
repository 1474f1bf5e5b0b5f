"""Training records: MOSS and project files in, ``Conversation`` objects out, and back.

Two record formats are read, from ``.json`` files (one record, or a list), ``.jsonl`` files (one
record a line) and folders of them (recursively):

- MOSS's plugin SFT format (moss-003-sft-plugin-data)::

    {"meta_instruction": "...", "num_turns": 1, "chat": {"turn_1": {
        "Human": "<|Human|>: What is 4/7?<eoh>\\n", "Inner Thoughts": "<|Inner Thoughts|>: ...",
        "Commands": "...", "Tool Responses": "<|Results|>:\\n...\\n<eor>\\n", "MOSS": "..."}}}

- this project's own format, written by ``write_conversations`` (synthetic data)::

    {"meta_instruction": "...", "turns": [{"human": "What is 4/7?", "thoughts": "...",
        "commands": "Calculate(\\"4/7\\")", "results": "...", "reply": "4/7 is about 0.5714."}]}

Both become ``moss_core.protocol.Conversation``. Bad records are skipped and counted by reason in a
``LoadReport``; training never meets them.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.files import atomic_text_file
from moss_core import protocol
from moss_core.errors import ConversationError
from moss_core.protocol import Capability, Conversation, Exchange

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
    """The same tools, listed with another ``moss_core.protocol`` preset.

    Small models pay for every token of MOSS's long system text; ``short`` keeps the tool
    list (what decides the Commands) and drops the rest.

    >>> rebuild_meta_instruction(protocol.MOSS_META_INSTRUCTION, "short").count("enabled. API")
    3
    """
    found = _ENABLED_API.finditer(meta_instruction)
    caps = [Capability(m["label"], m["api"].strip()) for m in found]
    return protocol.build_meta_instruction(caps, preset)
