"""The held-out evaluation files: cases, the corpus they search, and a small smoke set.

Cases come only from ``heldout`` phrasings and entities, so a model trained on ``train`` data
meets every wording and name for the first time. Each case is checked like training data:
its expected value is what the real plugin returns for the correct command.

    finetune/assets/eval_cases.jsonl    {"id", "query", "tool", "value" | "solutions" | "doc",
                                         "answer": [...], "family"}
    finetune/assets/eval_corpus.jsonl   {"id", "title", "text"}: the held-out search corpus
    finetune/assets/eval_smoke.jsonl    a few cases of each kind, for quick regression checks

Regenerate with ``moss-agent synth --eval-assets finetune/assets`` (deterministic).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from finetune.synth.base import Family, Sample, SynthError, Tool
from finetune.synth.corpus import documents
from finetune.synth.entities import pools
from finetune.synth.generate import FAMILIES, Runner, SearchMiss

ASSETS = Path(__file__).resolve().parent.parent / "assets"
EVAL_SEED = 2024
# Cases per expected tool (None: no tool). At least 40 of each kind.
PER_TOOL: dict[Tool | None, int] = {"Calculate": 60, "Solve": 45, "Search": 50, None: 45}
SMOKE_PER_TOOL = 5
_PREFIX = {"Calculate": "calc", "Solve": "solve", "Search": "search", None: "none"}


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def to_case(case_id: str, sample: Sample) -> dict[str, Any]:
    """One evaluation case for a single-turn sample.

    >>> from moss_core.protocol import Call
    >>> s = Sample("calc.mul/heldout/0", "Calculate", "6 × 7?", "", [Call("Calculate", "6*7")],
    ...            "42.", expected=[42.0], answers=["42"])
    >>> to_case("calc-000", s)["value"]
    42
    """
    case: dict[str, Any] = {"id": case_id, "query": sample.human, "tool": sample.tool}
    if sample.tool == "Calculate":
        assert sample.value is not None
        case["value"] = _number(sample.value)
    elif sample.tool == "Solve":
        assert sample.solutions is not None
        case["solutions"] = {k: _number(v) for k, v in sample.solutions.items()}
    elif sample.tool == "Search":
        case["doc"] = sample.doc
    case["answer"] = list(sample.answers)
    case["family"] = sample.template.split("/", 1)[0]
    return case


def _cases_for(tool: Tool | None, count: int, runner: Runner, seen: set[str]) -> list[Sample]:
    """``count`` distinct checked samples, the families taken in turn so each is covered."""
    families: list[Family] = list(FAMILIES[tool])
    rng = random.Random(f"eval:{EVAL_SEED}:{tool}")
    out: list[Sample] = []
    misses = 0
    for _ in range(count * 100):
        if len(out) == count:
            break
        family = families[len(out) % len(families)] if misses < 20 else rng.choice(families)
        try:
            sample = family.sample(rng, pools("heldout"), "heldout")
            runner.results(sample)
        except SearchMiss:
            misses += 1
            continue
        except SynthError:
            raise
        except (ValueError, AssertionError):
            misses += 1
            continue
        if sample.human in seen:
            misses += 1
            continue
        seen.add(sample.human)
        out.append(sample)
        misses = 0
    if len(out) < count:
        raise SynthError(f"only {len(out)} distinct held-out {tool} cases; wanted {count}")
    return out


def eval_samples() -> list[tuple[dict[str, Any], Sample]]:
    """Every held-out evaluation case with the sample it came from (its correct turn)."""
    out: list[tuple[dict[str, Any], Sample]] = []
    seen: set[str] = set()
    runner = Runner("heldout")
    for tool, count in PER_TOOL.items():
        for i, sample in enumerate(_cases_for(tool, count, runner, seen)):
            out.append((to_case(f"{_PREFIX[tool]}-{i:03d}", sample), sample))
    return out


def eval_cases() -> list[dict[str, Any]]:
    """Every held-out evaluation case, in a fixed order."""
    return [case for case, _ in eval_samples()]


def smoke_cases(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``SMOKE_PER_TOOL`` cases of each kind, evenly spaced so that they span its families.

    >>> [c["id"] for c in smoke_cases([{"id": i, "tool": None} for i in range(10)])]
    [0, 2, 4, 6, 8]
    """
    out: list[dict[str, Any]] = []
    for tool in PER_TOOL:
        mine = [c for c in cases if c["tool"] == tool]
        step = max(1, len(mine) // SMOKE_PER_TOOL)
        out += mine[::step][:SMOKE_PER_TOOL]
    return out


def corpus_lines() -> list[dict[str, str]]:
    """The held-out search corpus as JSONL records."""
    return [doc.to_json() for doc in documents("heldout")]


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object a line (UTF-8, stable key order); return the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def asset_texts() -> dict[str, str]:
    """File name -> exact content of each evaluation asset (what ``write_assets`` writes)."""
    cases = eval_cases()
    texts = {}
    for name, records in (
        ("eval_cases.jsonl", cases),
        ("eval_corpus.jsonl", corpus_lines()),
        ("eval_smoke.jsonl", smoke_cases(cases)),
    ):
        texts[name] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return texts


def write_assets(folder: Path = ASSETS) -> dict[Path, int]:
    """Regenerate the evaluation files in ``folder``; return path -> number of lines."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[Path, int] = {}
    for name, text in asset_texts().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written[path] = text.count("\n")
    return written
