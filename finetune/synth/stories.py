"""Word problems written by people, as Calculate turns: GSM8K-style records in, samples out.

A record is one JSON object a line with ``id``, ``query`` (the problem), ``value`` (the
reference answer) and ``solution``: the reference solution, whose calculator steps are marked
``<<expression=result>>`` and whose last line is ``#### answer`` (GSM8K's own format; the
copy in ``../shared/benchmarks/gsm8k_train.jsonl`` adds ``steps``, the number of marks).

Each problem becomes one turn:

- **Human**: the problem, as its author wrote it.
- **Inner Thoughts**: the solution's sentences, each intermediate result replaced by the
  expression that produced it, and each step prefixed with its operation in words
  ("Divide: Natalia sold 48/2 clips in May. Add: Natalia sold 48+48/2 clips altogether in
  April and May."). The thoughts build the final expression from the story's own numbers and
  name the operation each sentence asks for; they never state a number the model would have
  to compute itself (a sentence that still does is left out).
- **Commands**: one ``Calculate`` of the *folded* expression: every step, with each
  intermediate result replaced by its own expression (``48+48/2``), brackets only where
  precedence needs them.
- **Results**: what the project's calculator returns for it, produced by the real plugin.
- **Reply**: the solution's last sentence with the answer in place of its working ("Natalia
  sold 72 clips altogether in April and May."), or "The answer is 72." when that sentence
  carries other working.

A problem is kept only when the calculator gives the reference answer for the folded
expression; ``load`` counts every problem it drops, by reason, so a data file is never
silently thinned. A stable slice (``heldout``, 1 problem in 20 by a hash of its id) is never
drawn for training, so it can measure what the training taught.
"""

from __future__ import annotations

import ast
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.grounding import overused
from finetune.synth.base import Sample, Split
from finetune.synth.numfmt import accepted_answers, say
from moss_core.protocol import Call

HELDOUT_EVERY = 20  # 1 problem in 20 (by a hash of its id) is held out for evaluation
DEFAULT_MAX_STEPS = 3  # calculator steps per problem; longer folds make unreadable expressions

_MARK = re.compile(r"<<([^<>=]*)=([^<>]*)>>(\s*-?[\d,]*\.?\d+)?")
# The working a solution writes before a mark: "48/2 = ", "0.2 x 50 = $", "$3 * 4 = ".
_WORKING = re.compile(r"[\d$(][\d.,$%()+\-*/x×÷ ]*=\s*\$?\s*$")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?|(?<![\w.])\.\d+")
# Numbers a story may need without writing them: halves and doubles, percent, units of time,
# dozens. A folded expression with any other number the question does not write is dropped:
# it would teach the model to work a step out in its head.
CONSTANTS = frozenset([0.5, 1, 2, 3, 4, 7, 10, 12, 24, 30, 52, 60, 100, 365, 1000, 0.01, 0.1])
_SMALL = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve")  # fmt: skip
_WORDS = {w: float(i) for i, w in enumerate(_SMALL)}
_WORDS |= {"twenty": 20.0, "thirty": 30.0, "forty": 40.0, "fifty": 50.0, "sixty": 60.0,
           "seventy": 70.0, "eighty": 80.0, "ninety": 90.0, "hundred": 100.0, "dozen": 12.0,
           "half": 2.0, "twice": 2.0, "double": 2.0, "triple": 3.0, "thrice": 3.0,
           "quarter": 4.0, "third": 3.0}  # fmt: skip
_WORD = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)
_OP_WORD = {ast.Add: "Add", ast.Sub: "Subtract", ast.Mult: "Multiply", ast.Div: "Divide"}


class StoryError(ValueError):
    """A problem that cannot become a checked training turn; the message is the reason."""


@dataclass
class Loaded:
    """What ``load`` read: the samples, and every problem it dropped, counted by reason."""

    samples: list[Sample] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    malformed: Counter[str] = field(default_factory=Counter)  # lines that are not a record

    def summary(self) -> str:
        parts = [f"{len(self.samples)} kept"]
        parts += [f"{n} dropped: {why}" for why, n in self.dropped.most_common()]
        parts += [f"{n} lines skipped: {why}" for why, n in self.malformed.most_common()]
        return "; ".join(parts)


def held_out(problem_id: str) -> bool:
    """Whether a problem belongs to the held-out slice (stable across runs and machines).

    >>> sum(held_out(f"gsm8k-train-{i:04d}") for i in range(2000))
    95
    """
    return zlib.crc32(problem_id.encode()) % HELDOUT_EVERY == 0


def numbers_in(text: str) -> Counter[float]:
    """The numbers a text writes (``4,817``, ``$23.40``, ``8%`` → 4817, 23.4, 8), counted.

    >>> sorted(numbers_in("Tom has $1,200.50 and 8% of 3 apples, 3 pears").items())
    [(3.0, 2), (8.0, 1), (1200.5, 1)]
    """
    return Counter(float(m.group().replace(",", "")) for m in _NUMBER.finditer(text))


def given(question: str) -> Counter[float]:
    """The numbers a question gives, in digits or words ("ten", "twice", "a dozen"), and
    each percentage also as a fraction (``20%``, ``20 percent`` → 0.2).

    >>> sorted(given("Twice 20 percent of a dozen").elements())
    [0.2, 2.0, 12.0, 20.0]
    """
    out = numbers_in(question)
    out.update(_WORDS[m.group().lower()] for m in _WORD.finditer(question))
    for m in re.finditer(r"(\d[\d,]*(?:\.\d+)?)\s*(?:%|percent)", question):
        out[float(m.group(1).replace(",", "")) / 100] += 1
    return out


def _parse(expr: str) -> ast.expr:
    text = expr.replace("x", "*").replace("×", "*").replace("÷", "/").replace(",", "")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise StoryError("a step's expression is not arithmetic") from None
    for node in ast.walk(tree):
        ok = (ast.BinOp, ast.UnaryOp, ast.Constant, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub)
        if not isinstance(node, ok):
            raise StoryError("a step's expression is not arithmetic")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise StoryError("a step's expression is not arithmetic")
    return tree


def _value(tree: ast.expr) -> float:
    # The project's own calculator, not eval: it bounds sizes before computing, and follows
    # Python's numbers, so the value is the one eval would give.
    from plugins.calculator import evaluate

    try:
        return float(evaluate(expression(tree)))
    except ValueError:  # MathInputError: too large, division by zero
        raise StoryError("a step's expression is not arithmetic") from None


def expression(tree: ast.expr) -> str:
    """The expression as the Commands line writes it: no spaces, brackets only where needed.

    >>> expression(ast.parse("48 + (48 / 2)", mode="eval").body)
    '48+48/2'
    >>> expression(ast.parse("(100 - 50) * (3.0)", mode="eval").body)
    '(100-50)*3.0'
    """
    return ast.unparse(tree).replace(" ", "")


@dataclass
class _Step:
    line: int
    span: tuple[int, int]  # the working and the mark, in the line
    dollar: bool  # the line wrote "$" before the result
    tree: ast.expr  # the step's own expression, intermediate results not yet replaced
    result: float
    folded: ast.expr | None = None


def _steps(lines: list[str]) -> list[_Step]:
    steps = []
    for i, line in enumerate(lines):
        for mark in _MARK.finditer(line):
            before = line[: mark.start()]
            working = _WORKING.search(before)
            start = working.start() if working else mark.start()
            try:
                result = float(mark.group(2).replace(",", "").strip().rstrip("."))
            except ValueError:
                raise StoryError("a step's result is not a number") from None
            dollar = before.rstrip().endswith("$")
            steps.append(_Step(i, (start, mark.end()), dollar, _parse(mark.group(1)), result))
    return steps


def _fold(steps: list[_Step], question: Counter[float]) -> None:
    """Replace each number of a step that is an earlier step's result by that step's
    expression. A number the question also writes stays a number unless it is the result of
    a step not yet used (the solution's own order says which it meant)."""
    used: set[int] = set()

    class Replace(ast.NodeTransformer):
        def __init__(self, before: list[_Step]) -> None:
            self.before = before

        def visit_Constant(self, node: ast.Constant) -> Any:
            if not isinstance(node.value, int | float):
                return node
            number = float(node.value)
            for j in reversed(range(len(self.before))):
                step = self.before[j]
                if not math.isclose(number, step.result, rel_tol=1e-9):
                    continue
                if question[number] and j in used:
                    continue
                used.add(j)
                assert step.folded is not None
                return step.folded
            return node

    for i, step in enumerate(steps):
        step.folded = Replace(steps[:i]).visit(_copy(step.tree))
        if not math.isclose(_value(step.folded), step.result, rel_tol=1e-6, abs_tol=1e-6):
            raise StoryError("a step's result does not follow from its expression")


def _copy(tree: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(tree), mode="eval").body


def _op_word(tree: ast.expr) -> str | None:
    return _OP_WORD.get(type(tree.op)) if isinstance(tree, ast.BinOp) else None


def _sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    if text and text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]


def _restate(text: str, results: dict[float, _Step], asked: Counter[float]) -> str:
    """Prose between marks with each intermediate result it mentions (a number the question
    does not write) replaced by the expression that produced it."""

    def swap(m: re.Match[str]) -> str:
        n = float(m.group().replace(",", ""))
        step = results.get(n)
        if asked[n] or step is None or step.folded is None:
            return m.group()
        return expression(step.folded)

    return _NUMBER.sub(swap, text)


def _numbers_of(results: dict[float, _Step]) -> Counter[float]:
    out: Counter[float] = Counter()
    for step in results.values():
        if step.folded is not None:
            out.update(numbers_in(expression(step.folded)))
    return out


def _grounded(text: str, allowed: Counter[float]) -> bool:
    return all(allowed[n] for n in numbers_in(text))


def to_sample(
    record: dict[str, Any], max_steps: int = DEFAULT_MAX_STEPS, single_use: bool = False
) -> Sample:
    """One problem as a checked Calculate sample; ``StoryError`` says why it cannot be one.

    ``single_use`` also drops a problem whose folded expression uses a number of the question
    more often than the question writes it (``48-48/2+5`` for "48 clips, sells half"), by the
    rule the Agent's single-use grounding applies at inference (``agent.grounding.overused``):
    such folds teach a model to repeat a story's numbers (``98-(8+8)`` for "98 eggs, buys 8
    more").

    >>> s = to_sample({"id": "p", "query": "Ann has 48 clips. She sells half of them and "
    ...     "then buys 5. How many now?", "value": 29, "solution": "She sells 48/2 = "
    ...     "<<48/2=24>>24 clips.\\nShe has 48-24+5 = <<48-24+5=29>>29 clips now.\\n#### 29"})
    >>> s.thoughts
    'Divide: She sells 48/2 clips. Add: She has 48-48/2+5 clips now.'
    >>> s.calls[0].argument, s.reply
    ('48-48/2+5', 'She has 29 clips now.')
    """
    from plugins.calculator import evaluate

    question = str(record["query"]).strip()
    value = float(record["value"])
    lines = [ln for ln in str(record["solution"]).split("\n") if not ln.startswith("####")]
    steps = _steps(lines)
    if not steps:
        raise StoryError("no calculator step in the solution")
    if len(steps) > max_steps:
        raise StoryError(f"more than {max_steps} calculator steps")
    asked = numbers_in(question)
    _fold(steps, asked)
    final = next((s for s in reversed(steps) if math.isclose(s.result, value, rel_tol=1e-9)), None)
    if final is None:
        raise StoryError("no step gives the reference answer")
    assert final.folded is not None
    expr = expression(final.folded)
    try:
        got = float(evaluate(expr))
    except Exception:
        raise StoryError("the calculator refuses the folded expression") from None
    if not math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9):
        raise StoryError("the calculator's value differs from the reference answer")
    known = given(question)
    if any(not known[n] and n not in CONSTANTS for n in numbers_in(expr)):
        raise StoryError("the folded expression uses a number the question does not give")
    if single_use and overused(expr, question):
        raise StoryError("the folded expression uses a number more often than the question")

    results = {s.result: s for s in steps}
    thoughts = []
    for i, line in enumerate(lines):
        mine = [s for s in steps if s.line == i]
        pieces, allowed, at = [], Counter(asked), 0
        for step in mine:
            assert step.folded is not None
            shown = expression(step.folded)
            allowed.update(numbers_in(shown))
            pieces += [_restate(line[at : step.span[0]], results, asked), shown]
            at = step.span[1]
        text = "".join([*pieces, _restate(line[at:], results, asked)])
        if not text.strip() or not _grounded(text, allowed | _numbers_of(results)):
            continue  # it states a number the model would have to work out itself
        word = _op_word(mine[-1].tree) if mine else None
        sentence = _sentence(text)
        thoughts.append(f"{word}: {sentence}" if word else sentence)
        if final in mine:
            break
    if not thoughts:
        thoughts = [f"I work it out in one expression: {expr}."]

    answer = say(value)
    reply = f"The answer is {answer}."
    last = [s for s in steps if s.line == final.line]
    if last == [final]:
        a, b = final.span
        line = lines[final.line]
        text = line[:a] + ("$" if final.dollar else "") + answer + line[b:]
        # "Since 1000-240 = 760, they need 760 more" would read "Since 760, they need 760 more".
        again = numbers_in(line[:a] + line[b:])[value]
        if not again and _grounded(text, asked + Counter([value])) and "=" not in text:
            reply = _sentence(text)
    answers = list(dict.fromkeys([answer, *accepted_answers(value)]))
    return Sample(
        template=f"story/{record.get('id', '?')}",
        tool="Calculate",
        human=question,
        thoughts=" ".join(thoughts),
        calls=[Call("Calculate", expr)],
        reply=reply,
        expected=[got],
        answers=answers,
        info={"story": str(record.get("id", "")), "steps": len(steps)},
    )


def load(
    lines: Iterable[str],
    split: Split = "train",
    max_steps: int = DEFAULT_MAX_STEPS,
    single_use: bool = False,
) -> Loaded:
    """The problems of ``split`` in a GSM8K-style JSONL text, as samples; the rest counted
    (``single_use``: see ``to_sample``)."""
    out = Loaded()
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError
            missing = [k for k in ("id", "query", "value", "solution") if k not in record]
        except (json.JSONDecodeError, TypeError):
            out.malformed["not a JSON object"] += 1
            continue
        if missing:
            out.malformed[f"no {', '.join(missing)}"] += 1
            continue
        if held_out(str(record["id"])) != (split == "heldout"):
            continue
        try:
            out.samples.append(to_sample(record, max_steps, single_use))
        except (StoryError, ValueError, TypeError) as exc:
            reason = str(exc) if isinstance(exc, StoryError) else "a field has the wrong type"
            out.dropped[reason] += 1
    return out


def load_file(
    path: str | Path,
    split: Split = "train",
    max_steps: int = DEFAULT_MAX_STEPS,
    single_use: bool = False,
) -> Loaded:
    """``load`` of a file, with a clear error when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return load(f, split, max_steps, single_use)
    except OSError as exc:
        raise StoryError(f"cannot read word problems from {path}: {exc.strerror}") from None
