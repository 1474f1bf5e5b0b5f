"""Evaluation cases: one question each, with what a correct tool call and answer look like.

The file format is described in ``finetune.evaluate``; ``read_cases`` checks each line for the
fields its tool needs, so a malformed file fails before any model is loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moss_core.errors import ConversationError

DEFAULT_CASES = Path(__file__).resolve().parent.parent / "assets" / "eval_cases.jsonl"
TOOLS = ("Calculate", "Solve", "Search")
KINDS = (*TOOLS, "none")


@dataclass(frozen=True)
class Case:
    """One evaluation question and what a correct answer looks like."""

    id: str
    query: str
    tool: str | None
    value: float | None = None
    solutions: dict[str, float] | None = None
    doc: str | None = None
    answer: tuple[str, ...] = ()
    family: str = ""
    arguments: tuple[str, ...] = ()  # another plugin's accepted arguments, if scored

    @property
    def kind(self) -> str:
        return self.tool or "none"

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "case") -> Case:
        """Read one case, checking the fields its tool needs.

        >>> Case.from_dict({"id": "c1", "query": "6*7?", "tool": "Calculate", "value": 42}).value
        42.0
        """
        if not isinstance(data, dict) or not isinstance(data.get("query"), str):
            raise ConversationError(f'{where} needs a "query" string.')
        tool = data.get("tool")
        # Any plugin's name: a plugin author scores their own tool's cases (its arguments by
        # "arguments", its replies by "answer").
        if tool is not None and (not isinstance(tool, str) or not tool.isidentifier()):
            raise ConversationError(
                f'{where}: "tool" must be a plugin\'s command name such as "Calculate", or '
                f"null for a question that needs no tool; got {tool!r}."
            )
        need = {"Calculate": "value", "Solve": "solutions", "Search": "doc"}.get(tool or "")
        if need and data.get(need) is None:
            raise ConversationError(f'{where}: a {tool} case needs "{need}".')
        answer, arguments = (
            _strings(data.get(k), f'{where}: "{k}"') for k in ("answer", "arguments")
        )
        solutions = data.get("solutions")
        return cls(
            id=str(data.get("id", where)),
            query=data["query"],
            tool=tool,
            value=float(data["value"]) if data.get("value") is not None else None,
            solutions={str(k): float(v) for k, v in solutions.items()} if solutions else None,
            doc=str(data["doc"]) if data.get("doc") is not None else None,
            answer=answer,
            family=str(data.get("family", "")),
            arguments=arguments,
        )


def _strings(value: object, what: str = "a value") -> tuple[str, ...]:
    """One accepted string, or a list of them (a lone string is not split into characters).

    >>> _strings("5 km to miles"), _strings(["a", 3]), _strings(None)
    (('5 km to miles',), ('a', '3'), ())
    """
    if isinstance(value, str):
        return (value,)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConversationError(f"{what} must be a string or a list of strings, not {value!r}.")
    return tuple(str(v) for v in value)


def _read_jsonl(path: str | Path) -> list[tuple[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise ConversationError(f"{p} does not exist: give a JSONL file, one JSON object a line.")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConversationError(
            f"{p} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8 JSONL."
        ) from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append((f"{p.name} line {lineno}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise ConversationError(
                    f"{p.name} line {lineno} is not JSON ({exc.msg})."
                ) from None
    return out


def read_cases(path: str | Path) -> list[Case]:
    """The cases of a JSONL file."""
    return [Case.from_dict(data, where) for where, data in _read_jsonl(path)]


def read_corpus(path: str | Path) -> list[dict[str, str]]:
    """The documents of a corpus JSONL file (``{"id", "title", "text"}`` lines)."""
    docs = []
    for where, data in _read_jsonl(path):
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise ConversationError(f'{where} needs a "text" string.')
        docs.append(
            {"id": str(data["id"]), "title": str(data.get("title", "")), "text": data["text"]}
        )
    return docs


def sample_cases(cases: list[Case], n: int, seed: int = 0) -> list[Case]:
    """``n`` of ``cases`` drawn at random, in the order drawn; all of them when there are fewer.

    The draw depends only on ``seed`` and the number of cases, so a figure reported as
    "MAWPS, 300 drawn with seed 0" can be reproduced, and the first k of a sample are the
    sample of k with the same seed.

    >>> cases = [Case(id=str(i), query="q", tool=None) for i in range(10)]
    >>> [c.id for c in sample_cases(cases, 3, seed=1)], [c.id for c in sample_cases(cases, 2, 1)]
    (['2', '1', '4'], ['2', '1'])
    >>> len(sample_cases(cases, 50))
    10
    """
    import random

    if n >= len(cases):
        return list(cases)
    keep = random.Random(seed).sample(range(len(cases)), n)
    return [cases[i] for i in keep]
