"""``moss-agent eval``: how well a model uses its tools, measured on single-turn cases.

    moss-agent eval --cases finetune/assets/eval_cases.jsonl [--corpus CORPUS.jsonl]
                    [--adapter DIR | --base-only] [--no-tools | --fail-tools]
                    [--batch-size N] [--json OUT]

A case is one JSON line::

    {"id": "calc-000", "query": "What is 4,817 times 63?", "tool": "Calculate",
     "value": 303471, "answer": ["303471"]}
    {"id": ..., "tool": "Solve", "solutions": {"x": 24}, ...}
    {"id": ..., "tool": "Search", "doc": "h-mount-velar", ...}   # a corpus id holding the answer
    {"id": ..., "tool": null, "answer": []}                     # no tool wanted
    {"id": ..., "tool": "Convert", "arguments": ["5 km to miles"], "answer": ["3.10686"]}

(the last for any other plugin, installed or registered: its argument is right when it is one
of ``arguments``, ignoring case and collapsing runs of spaces, and is not scored without
them), and a corpus line is ``{"id", "title", "text"}``; the corpus feeds the local Search
backend while the cases run. Metrics, overall and by expected tool:

- ``format_valid``: the model's Commands line was readable (``Turn.problems`` names no
  problem with the Commands line or a command in it);
- ``tool_accuracy``: the first command's name (or no command) is the expected tool;
- ``argument_accuracy``: the first command is the expected tool and its argument is right:
  Calculate evaluates (with our calculator) to ``value`` within a relative 1e-6; Solve solves
  (with our solver) to ``solutions`` (by unknown name, or, when the model chose other names,
  the same values in some order); Search's top 3 results for the query include ``doc``;
  no-tool cases: no command at all;
- ``answer_accuracy``: over cases with a non-empty ``answer``: the reply contains one of them,
  case-insensitive, thousands separators ignored, a number not continuing into more digits;
- ``false_tool_rate``: no-tool cases that called a tool;
- ``made_up_on_failure``: over turns that called tools and got no result from any of them, the
  replies that state a number neither the question nor the Commands line holds: an answer made
  up where the tool gave none;
- ``latency_p50_s`` / ``latency_p95_s``: seconds per turn.

``--no-tools`` runs the same cases with every plugin disabled, so what the tools are worth is a
measured difference. ``--fail-tools`` lists the tools as enabled but makes every call fail, as
in an outage (no network for search, a crashed plugin): ``made_up_on_failure`` then covers
every turn that called a tool. Each case is a fresh conversation (``agent.reset()``).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import protocol
from agent.backends.base import constrains
from agent.dispatch import capabilities
from agent.errors import ConversationError, MossAgentError
from agent.options import add_engine_flags, non_negative_int, positive_int
from agent.retry import DEFAULT_ALTERNATIVES

if TYPE_CHECKING:
    from agent.loop import Agent
    from agent.turn import Turn
    from plugins.search import LocalIndex

DEFAULT_CASES = Path(__file__).resolve().parent / "assets" / "eval_cases.jsonl"
TOOLS = ("Calculate", "Solve", "Search")
KINDS = (*TOOLS, "none")
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
REL_TOL = 1e-6
SEARCH_TOP = 3
# Turn.problems entries that concern the Commands line (see agent.protocol.parse_phase1 and
# agent.loop): "no Commands line", "could not read a command in ...", "ignored text after the
# Commands line", "unreadable Commands line treated as None".
_COMMAND_PROBLEM = re.compile(r"command", re.IGNORECASE)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Scoring one turn
# ---------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Lower-case, thousands separators dropped.

    >>> normalize("It is 8,849 Metres")
    'it is 8849 metres'
    """
    return _THOUSANDS.sub("", text).lower()


def contains_answer(reply: str, answers: Iterable[str]) -> bool:
    """Whether ``reply`` states one of ``answers`` (see the module docstring).

    >>> contains_answer("The result is 303,471.", ["303471"])
    True
    >>> contains_answer("It is 18.5 or 8.5", ["8"]), contains_answer("About 8.", ["8"])
    (False, True)
    """
    text = normalize(reply)
    for answer in answers:
        wanted = normalize(answer).strip()
        if not wanted:
            continue
        numeric = bool(re.fullmatch(r"[-$]?\d[\d.]*%?", wanted))
        for m in re.finditer(re.escape(wanted), text):
            if not numeric:
                return True
            before = text[m.start() - 1] if m.start() else ""
            after = text[m.end() : m.end() + 2]
            if not (before.isdigit() or before == ".") and not re.match(r"\d|\.\d", after):
                return True
    return False


def numbers_of_its_own(reply: str, *given: str) -> set[str]:
    """The numbers ``reply`` states that none of ``given`` (the question, the call) holds: what
    a reply made up, as after a failed call. Thousands separators are ignored.

    >>> sorted(numbers_of_its_own("13,371 times 2 is 26742.", "What is 13,371*2?"))
    ['26742']
    """
    digits = re.compile(r"\d+")
    known = set(digits.findall(" ".join(given).replace(",", "")))
    return set(digits.findall(reply.replace(",", ""))) - known


def format_valid(turn: Turn) -> bool:
    """No problem with the Commands line was repaired in this turn."""
    return not any(_COMMAND_PROBLEM.search(p) for p in turn.problems)


def calculate_matches(argument: str, value: float) -> bool:
    """Whether our calculator evaluates ``argument`` to ``value`` (relative 1e-6).

    >>> calculate_matches("4817*63", 303471), calculate_matches("4817", 303471)
    (True, False)
    """
    from plugins.calculator import evaluate as calc

    try:
        got = float(calc(argument))
    except Exception:
        return False
    return math.isclose(got, value, rel_tol=REL_TOL, abs_tol=1e-9)


def _as_float(text: Any) -> float | None:
    try:
        return float(Fraction(str(text)))
    except (ValueError, ZeroDivisionError):
        return None


def solve_matches(argument: str, solutions: dict[str, float]) -> bool:
    """Whether our solver gives ``solutions`` for ``argument``: by unknown name, or the same
    values under other names (a model may call the unknowns a and c instead of x and y).

    >>> solve_matches("x+y=10;x-y=4", {"x": 7, "y": 3})
    True
    >>> solve_matches("a+c=10;a-c=4", {"x": 7, "y": 3})
    True
    >>> solve_matches("x+y=10", {"x": 7, "y": 3})
    False
    """
    from plugins.solver import solve

    try:
        raw = solve(argument)
    except Exception:
        return False
    got = {k: _as_float(v) for k, v in raw.items()}
    if len(got) != len(solutions) or any(v is None for v in got.values()):
        return False

    def close(a: float | None, b: float) -> bool:
        return a is not None and math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-9)

    if got.keys() == solutions.keys():
        return all(close(got[k], v) for k, v in solutions.items())
    mine = sorted(v for v in got.values() if v is not None)
    wanted = sorted(solutions.values())
    return all(close(a, b) for a, b in zip(mine, wanted, strict=True))


def _plain(argument: str) -> str:
    """An argument as compared for another plugin's case: lower case, runs of spaces as one
    (``5km`` and ``5 km`` still differ).

    >>> _plain("  5 KM   to miles ")
    '5 km to miles'
    """
    return " ".join(argument.lower().split())


def search_matches(index: LocalIndex | None, query: str, doc: str) -> bool | None:
    """Whether ``doc`` is among the top 3 results for ``query``; None without an index."""
    if index is None:
        return None
    try:
        return doc in [hit.id for hit in index.search(query, SEARCH_TOP)]
    except MossAgentError:
        return False


@dataclass
class CaseResult:
    """How the model did on one case. ``None`` scores are not applicable (not counted)."""

    id: str
    kind: str
    query: str
    called: str | None  # first command's name
    argument: str | None  # first command's argument
    reply: str
    format_valid: bool
    tool_correct: bool
    argument_correct: bool | None
    answer_correct: bool | None
    false_tool: bool | None
    seconds: float
    error: str | None = None  # the turn failed (backend error): every score is False
    made_up: bool | None = None  # every call failed: did the reply state a number of its own?
    retried: bool | None = None  # a command failed and the turn kept the model's alternative
    transcript: str = ""
    turn: dict[str, Any] = field(default_factory=dict)


def score(case: Case, turn: Turn, index: LocalIndex | None) -> CaseResult:
    """Score one completed turn against its case."""
    first = turn.commands[0] if turn.commands else None
    called = first.name if first else None
    tool_correct = called == case.tool
    argument_correct: bool | None
    if case.tool is None:
        argument_correct = first is None
    elif not tool_correct or first is None:
        argument_correct = False
    elif case.tool == "Calculate":
        argument_correct = calculate_matches(first.argument, case.value or 0.0)
    elif case.tool == "Solve":
        argument_correct = solve_matches(first.argument, case.solutions or {})
    elif case.tool == "Search":
        argument_correct = search_matches(index, first.argument, case.doc or "")
    elif case.arguments:
        argument_correct = _plain(first.argument) in {_plain(a) for a in case.arguments}
    else:
        argument_correct = None  # another plugin's case without "arguments": not scored
    made_up = None
    if turn.commands and not any(c.ok for c in turn.commands):
        made_up = bool(numbers_of_its_own(turn.reply, case.query, turn.commands_text))
    return CaseResult(
        id=case.id,
        kind=case.kind,
        query=case.query,
        called=called,
        argument=first.argument if first else None,
        reply=turn.reply,
        format_valid=format_valid(turn),
        tool_correct=tool_correct,
        argument_correct=argument_correct,
        answer_correct=contains_answer(turn.reply, case.answer) if case.answer else None,
        false_tool=(first is not None) if case.tool is None else None,
        seconds=turn.seconds,
        made_up=made_up,
        retried=turn.retried_from is not None,
        turn=turn.to_dict(),
    )


def failed(case: Case, error: str, seconds: float) -> CaseResult:
    """The result of a case whose turn raised (the backend failed)."""
    return CaseResult(
        id=case.id,
        kind=case.kind,
        query=case.query,
        called=None,
        argument=None,
        reply="",
        format_valid=False,
        tool_correct=False,
        argument_correct=False,
        answer_correct=False if case.answer else None,
        false_tool=None,
        seconds=seconds,
        error=error,
    )


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def _disable_all(agent: Agent) -> None:
    for plugin in agent.plugins:
        agent.plugins.disable(plugin.name)
    if agent.fixed_meta_instruction is not None:
        # A fixed text would still advertise the tools: list them as disabled instead.
        agent.fixed_meta_instruction = protocol.build_meta_instruction(
            capabilities(agent.plugins), agent.preset
        )


def _fail_all(agent: Agent) -> None:
    """Keep the tools listed as enabled, but refuse every call: the model sees ``No result.``"""
    from agent.dispatch import Dispatcher
    from plugins.registry import Registry

    refusing = Registry(list(agent.plugins))
    for plugin in agent.plugins:
        refusing.disable(plugin.name)
    old = agent.dispatcher
    agent.dispatcher = Dispatcher(
        refusing, max_commands=old.max_commands, timeout=old.timeout, quiet=True
    )


def evaluate(
    agent_factory: Callable[[], Agent],
    cases: Sequence[Case],
    corpus: Sequence[dict[str, str]] | None = None,
    no_tools: bool = False,
    progress: Callable[[int, CaseResult], None] | None = None,
    batch_size: int = 1,
    fail_tools: bool = False,
    disabled: Sequence[str] = (),
) -> Report:
    """Run every case as a fresh single-turn conversation and score it.

    ``agent_factory`` is called once; the agent is reset before each case. With ``batch_size``
    above 1, that many cases run together (``agent.batch.chat_batch``): several times faster,
    but each case's latency is then its batch's. ``disabled`` plugins are switched off, as a
    user of the demo can (the agent's ``disabled_tools`` decides how the system text shows
    them). With ``corpus``, the Search plugin searches those documents for the duration (and
    is reset to its defaults afterwards) and Search arguments are scored against them;
    without it, Search arguments are
    not scored.

    >>> from agent.backends.scripted import ScriptedBackend
    >>> from agent.loop import Agent
    >>> script = [' 6*7.<eot>\\n<|Commands|>: Calculate("6*7")<eoc>', ' It is 42.<eom>']
    >>> case = Case("c1", "What is 6 times 7?", "Calculate", value=42, answer=("42",))
    >>> evaluate(lambda: Agent(ScriptedBackend(script)), [case]).overall["argument_accuracy"]
    1.0
    """
    import time

    if no_tools and fail_tools:
        raise ValueError("no_tools and fail_tools exclude each other: pick one")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    agent = agent_factory()  # first: it loads the plugins in their usual order
    for name in disabled:
        agent.plugins.disable(name)  # an unknown name raises PluginError, listing the known
    if no_tools:
        _disable_all(agent)
    if fail_tools:
        _fail_all(agent)
    if no_tools or fail_tools:
        # Every alternative would fail as the first call did and the turn would keep the
        # first: the scores are the same without the beam searches that find that out.
        agent.alternatives = 0
    index = None
    if corpus is not None:
        from plugins import search
        from plugins.search import Hit, LocalIndex

        index = LocalIndex()
        index.add_many(Hit(d["id"], d.get("title", ""), d["text"]) for d in corpus)
        search.configure(backend=index)
    results: list[CaseResult] = []

    def record(case: Case, outcome: Turn | MossAgentError, ran: Agent, seconds: float) -> None:
        if isinstance(outcome, MossAgentError):
            result = failed(case, f"{type(outcome).__name__}: {outcome}", seconds)
        else:
            result = score(case, outcome, index)
            result.transcript = ran.transcript()
        results.append(result)
        if progress is not None:
            progress(len(results) - 1, result)

    try:
        if batch_size == 1:
            for case in cases:
                agent.reset()
                started = time.perf_counter()
                try:
                    outcome: Turn | MossAgentError = agent.chat(case.query)
                except MossAgentError as exc:
                    outcome = exc
                record(case, outcome, agent, time.perf_counter() - started)
        else:
            from agent.batch import chat_batch

            for start in range(0, len(cases), batch_size):
                chunk = cases[start : start + batch_size]
                agents = [agent.copy(history=False) for _ in chunk]
                started = time.perf_counter()
                outcomes = chat_batch(agents, [c.query for c in chunk], return_exceptions=True)
                seconds = time.perf_counter() - started
                for case, ran, outcome in zip(chunk, agents, outcomes, strict=True):
                    record(case, outcome, ran, seconds)
    finally:
        if corpus is not None:
            from plugins import search

            search.configure()
    return Report(
        results,
        no_tools=no_tools,
        meta_instruction=agent.meta_instruction,
        fail_tools=fail_tools,
        backend=agent.backend.name
        + (", Commands line constrained" if agent.constrain and constrains(agent.backend) else ""),
    )


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


# Held-out cases are single questions with short answers; these limits bound the time a model
# that never stops (the untuned base model, a runaway digit loop) takes per case. They must not
# cut what the data teaches: the longest phase 1 in the shipped adapter's training data
# (thoughts and a three-equation Commands line, markers included) is 138 tokens, the longest
# reply 62. An earlier limit of 96 cut 44 of an earlier adapter's 7,893 phase-1 turns (646 of
# the 40,271 now), and scored correct three-equation calls as unreadable.
EVAL_THOUGHT_TOKENS = 160
EVAL_REPLY_TOKENS = 128


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``moss-agent eval``.

    >>> p = argparse.ArgumentParser(); add_eval_arguments(p)
    >>> p.parse_args(["--no-tools"]).no_tools
    True
    """
    parser.add_argument("--cases", default=str(DEFAULT_CASES), help="cases JSONL (default: the "
                        "held-out cases shipped in finetune/assets)")  # fmt: skip
    parser.add_argument("--corpus", help="corpus JSONL for Search (default: eval_corpus.jsonl "
                        "next to the cases file, if there is one)")  # fmt: skip
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--adapter", help="PEFT LoRA adapter folder to evaluate")
    which.add_argument("--base-only", action="store_true", help="the base model, no adapter")
    parser.add_argument("--model", help="Hugging Face model id or folder, or a .gguf file "
                        "(default: the embedded model)")  # fmt: skip
    parser.add_argument("--preset", choices=["short", "moss"], help="meta-instruction preset "
                        "(default: the adapter's own; else short for the embedded model, moss "
                        "for --model)")  # fmt: skip
    add_engine_flags(parser)
    outage = parser.add_mutually_exclusive_group()
    outage.add_argument("--no-tools", action="store_true", help="disable every plugin")
    outage.add_argument("--fail-tools", action="store_true", help="list the plugins as enabled "
                        "but make every call fail, as in an outage")  # fmt: skip
    parser.add_argument("--disable", action="append", default=[], metavar="PLUGIN",
                        help="switch this plugin off, as a demo user can (repeatable)")  # fmt: skip
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first N cases "
                        "(of the --sample, when one is drawn)")  # fmt: skip
    parser.add_argument("--sample", type=positive_int, metavar="N", help="evaluate N cases drawn "
                        "at random (the same N for the same --sample-seed), for a benchmark "
                        "too long to run whole in one sitting")  # fmt: skip
    parser.add_argument("--sample-seed", type=int, default=0, metavar="S",
                        help="seed of --sample (default: %(default)s)")  # fmt: skip
    parser.add_argument("--batch-size", type=positive_int, default=1, help="cases run together: "
                        "faster, but latency is then per batch (default: %(default)s)")  # fmt: skip
    parser.add_argument("--max-thought-tokens", type=positive_int, default=EVAL_THOUGHT_TOKENS,
                        help="phase-1 token limit per turn (default: %(default)s)")  # fmt: skip
    parser.add_argument("--max-reply-tokens", type=positive_int, default=EVAL_REPLY_TOKENS,
                        help="reply token limit per turn (default: %(default)s)")  # fmt: skip
    parser.add_argument("--alternatives", type=non_negative_int, default=DEFAULT_ALTERNATIVES,
                        help="when a command fails, rank this many readings by beam search "
                        "and keep a result two agree on; 0: off (default: %(default)s, as "
                        "Agent)")  # fmt: skip
    parser.add_argument("--votes", type=non_negative_int, default=0, metavar="K",
                        help="for a turn that calls Calculate or Solve, also rank K readings by "
                        "beam search and keep the values most grounded ones reach (Agent(votes="
                        "K)); 0: off (default: %(default)s)")  # fmt: skip
    parser.add_argument("--grounding", choices=["off", "numbers", "single-use"],
                        default="numbers", help="which readings may vote (default: "
                        "%(default)s; see agent.grounding)")  # fmt: skip
    parser.add_argument(
        "--no-constrain",
        dest="constrain",
        action="store_false",
        help="let the model write phase 1 freely instead of holding its "
        "Commands line to the enabled plugins' grammar (Agent(constrain=False))",
    )
    parser.add_argument("--json", metavar="OUT", help="write metrics and every transcript here")


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


def _factory(args: argparse.Namespace) -> Callable[[], Agent]:
    limits: dict[str, Any] = {
        "max_thought_tokens": getattr(args, "max_thought_tokens", EVAL_THOUGHT_TOKENS),
        "max_reply_tokens": getattr(args, "max_reply_tokens", EVAL_REPLY_TOKENS),
        "alternatives": getattr(args, "alternatives", DEFAULT_ALTERNATIVES),
        "votes": getattr(args, "votes", 0),
        "grounding": getattr(args, "grounding", "numbers"),
        "constrain": getattr(args, "constrain", True),
    }
    if getattr(args, "engine", "auto") != "auto":
        limits["engine"] = args.engine

    def build() -> Agent:
        from agent.loop import Agent

        if args.model or args.adapter or args.base_only:
            from agent.shipped import preset_for

            preset = args.preset or preset_for(args.model, args.adapter)
            return Agent.from_pretrained(
                args.model or None,
                adapter=args.adapter,
                device=args.device,
                preset=preset,
                **limits,
            )
        agent = Agent.default(device=args.device, **limits)
        if args.preset:
            agent.preset = args.preset
        return agent

    return build


def run_eval(args: argparse.Namespace) -> int:
    """Run ``moss-agent eval`` with parsed ``args``: print the table, write ``--json``."""
    from agent.files import write_atomic

    cases = read_cases(args.cases)
    if getattr(args, "sample", None) is not None:
        cases = sample_cases(cases, args.sample, getattr(args, "sample_seed", 0))
    if args.limit is not None:  # after the sample: the first N of it are a smaller sample
        cases = cases[: args.limit]
    corpus_path = args.corpus
    if corpus_path is None:
        sibling = Path(args.cases).with_name("eval_corpus.jsonl")
        corpus_path = str(sibling) if sibling.is_file() else None
    corpus = read_corpus(corpus_path) if corpus_path else None
    searches = sum(1 for c in cases if c.tool == "Search")
    if corpus is None and searches:
        # Not an error: with a network, the answers of web searches can still be scored.
        print(
            f"warning: {searches} Search cases but no corpus (no eval_corpus.jsonl next to "
            f"{args.cases}): Search runs on the web and its arguments are not scored. Pass "
            "--corpus CORPUS.jsonl to search the documents the cases name.",
            file=sys.stderr,
        )

    from plugins import default_registry

    installed_names = set(default_registry().names())
    for tool in sorted({c.tool for c in cases if c.tool and c.tool not in installed_names}):
        n = sum(1 for c in cases if c.tool == tool)
        print(
            f"warning: {n} case(s) expect {tool}, which is not an installed plugin (see "
            f"`moss-agent plugins`): the model cannot call it, so they score 0 on tools.",
            file=sys.stderr,
        )

    def progress(i: int, r: CaseResult) -> None:
        mark = "ok" if r.argument_correct and r.tool_correct else "--"
        print(f"[{i + 1}/{len(cases)}] {mark} {r.id}: {r.called}({r.argument!r})", file=sys.stderr)

    report = evaluate(
        _factory(args),
        cases,
        corpus,
        no_tools=args.no_tools,
        fail_tools=getattr(args, "fail_tools", False),
        progress=progress,
        batch_size=getattr(args, "batch_size", 1),
        disabled=getattr(args, "disable", []),
    )
    print(f"model: {report.backend}")
    print(report.table())
    if args.json:
        out = Path(args.json)
        write_atomic(out, json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        print(f"wrote {out}")
    return 0


__all__ = [
    "Case",
    "CaseResult",
    "Report",
    "add_eval_arguments",
    "contains_answer",
    "evaluate",
    "metrics",
    "read_cases",
    "read_corpus",
    "run_eval",
    "sample_cases",
    "score",
]
