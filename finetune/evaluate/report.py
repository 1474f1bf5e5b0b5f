"""The report of an evaluation: metrics overall and by expected tool, as a table or JSON."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from finetune.evaluate.cases import KINDS
from finetune.evaluate.scoring import CaseResult

METRICS = (
    "format_valid",
    "tool_accuracy",
    "argument_accuracy",
    "answer_accuracy",
    "false_tool_rate",
    "made_up_on_failure",
    "retried_rate",
    "latency_p50_s",
    "latency_p95_s",
)


def _rate(values: Iterable[bool | None]) -> float | None:
    scored = [v for v in values if v is not None]
    return sum(scored) / len(scored) if scored else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100).

    >>> _percentile([1.0, 2.0, 3.0, 4.0], 50), _percentile([1.0, 2.0, 3.0, 4.0], 95)
    (2.0, 4.0)
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def metrics(results: Sequence[CaseResult]) -> dict[str, float | None]:
    """The metrics of a set of case results (None where nothing was scored)."""
    seconds = [r.seconds for r in results if r.error is None]
    return {
        "cases": float(len(results)),
        "format_valid": _rate(r.format_valid for r in results),
        "tool_accuracy": _rate(r.tool_correct for r in results),
        "argument_accuracy": _rate(r.argument_correct for r in results),
        "answer_accuracy": _rate(r.answer_correct for r in results),
        "false_tool_rate": _rate(r.false_tool for r in results),
        "made_up_on_failure": _rate(r.made_up for r in results),
        "retried_rate": _rate(r.retried for r in results),
        "latency_p50_s": _percentile(seconds, 50),
        "latency_p95_s": _percentile(seconds, 95),
    }


@dataclass
class Report:
    """Every case's result, with metrics overall and by expected tool."""

    results: list[CaseResult]
    no_tools: bool = False
    meta_instruction: str = ""
    fail_tools: bool = False
    backend: str = ""  # the backend's name: engine, model and adapter

    @property
    def overall(self) -> dict[str, float | None]:
        return metrics(self.results)

    @property
    def by_tool(self) -> dict[str, dict[str, float | None]]:
        """Metrics per expected tool (``none``: no tool wanted), for kinds that have cases:
        the built-ins first, then other plugins' by name."""
        out = {}
        others = sorted({r.kind for r in self.results} - set(KINDS))
        for kind in (*KINDS[:-1], *others, KINDS[-1]):
            subset = [r for r in self.results if r.kind == kind]
            if subset:
                out[kind] = metrics(subset)
        return out

    def table(self) -> str:
        """The metrics as a fixed-width text table: one row per metric, a column per kind."""
        columns = {"all": self.overall, **self.by_tool}
        lines = [f"{'metric':<20}" + "".join(f"{name:>11}" for name in columns)]
        for metric in ("cases", *METRICS):
            cells = []
            for values in columns.values():
                v = values.get(metric)
                if v is None:
                    cells.append(f"{'-':>11}")
                elif metric == "cases":
                    cells.append(f"{int(v):>11d}")
                elif metric.startswith("latency"):
                    cells.append(f"{v:>11.2f}")
                else:
                    cells.append(f"{v:>11.3f}")
            lines.append(f"{metric:<20}" + "".join(cells))
        if self.no_tools:
            lines.append("(all tools disabled: --no-tools)")
        if self.fail_tools:
            lines.append("(every call failed: --fail-tools)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "no_tools": self.no_tools,
            "fail_tools": self.fail_tools,
            "backend": self.backend,
            "metrics": self.overall,
            "by_tool": self.by_tool,
            "meta_instruction": self.meta_instruction,
            "cases": [asdict(r) for r in self.results],
        }
