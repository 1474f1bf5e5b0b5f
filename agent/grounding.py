"""Grounding: the numbers of a tool's argument must come from the conversation.

A small model often writes a Calculate or Solve line that could never be right: a number that
appears nowhere in the question (``1960*40`` for a wage of 19.60), or a number of the question
used twice (``98-(8+8)`` for "starts with 98 eggs, buys 8 more"). A program can rule such lines
out. A number in a grounded plugin's argument is *grounded* when it is

- written in the conversation: the question, or an earlier turn's question, result or reply,
  in any written form (``4,817``, ``23.40``, ``$184.50``, ``8%`` as 8 and 0.08, ``1/2`` as 1,
  2 and 0.5, number words up to "twelve", the tens, "half", "twice", "a dozen"); or
- one of ``CONSTANTS``: units of time, percent and metric factors, halves.

*Single use* (a separate, stricter rule): a number the question writes once may appear in the
argument once. Constants are exempt, and so is every number when the question asks for a
repeat ("twice", "double", "half as many", "the same", "again", "each other").

Plugins opt in with ``@plugin(..., grounded=True)`` (the built-in Calculate and Solve do);
the Agent uses this to choose among the model's candidate lines (``agent.voting``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

# Numbers a question may need without writing them. Kept short on purpose: every constant is a
# number a wrong line may use without being ruled out.
CONSTANTS: frozenset[Decimal] = frozenset(
    Decimal(c).normalize()
    for c in (
        "1",  # 1+r/100, one more
        "2",  # halves and doubles, averages of two
        "7",  # days in a week
        "12",  # months in a year, a dozen
        "24",  # hours in a day
        "52",  # weeks in a year
        "60",  # minutes in an hour, seconds in a minute
        "100",  # percent
        "365",  # days in a year
        "1000",  # metric prefixes
        "3600",  # seconds in an hour
        "0.5",  # a half
        "0.01",  # a percent
    )
)

_WORD_VALUES: dict[str, tuple[str, ...]] = {
    "zero": ("0",), "one": ("1",), "two": ("2",), "three": ("3",), "four": ("4",),
    "five": ("5",), "six": ("6",), "seven": ("7",), "eight": ("8",), "nine": ("9",),
    "ten": ("10",), "eleven": ("11",), "twelve": ("12",), "twenty": ("20",),
    "thirty": ("30",), "forty": ("40",), "fifty": ("50",), "sixty": ("60",),
    "seventy": ("70",), "eighty": ("80",), "ninety": ("90",), "hundred": ("100",),
    "thousand": ("1000",), "half": ("2", "0.5"), "halves": ("2", "0.5"), "twice": ("2",),
    "double": ("2",), "doubles": ("2",), "triple": ("3",), "thrice": ("3",),
    "dozen": ("12",), "dozens": ("12",), "quarter": ("4", "0.25"), "third": ("3",),
}  # fmt: skip
_WORD = re.compile(r"\b(" + "|".join(_WORD_VALUES) + r")\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)?(\.\d+)?")
_PERCENT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)
_FRACTION = re.compile(r"(?<![\d.])(\d+)\s*/\s*(\d+)(?![\d.])")
_REPEATS = re.compile(
    r"\b(twice|double|doubles|doubled|half as|as many|as much|same|again|each other|both)\b",
    re.IGNORECASE,
)


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return value.normalize() if value.is_finite() else None


def _digits(text: str) -> list[Decimal]:
    out = []
    for m in _NUMBER.finditer(text):
        if not m.group(0) or m.group(0) == ".":
            continue
        value = _decimal(m.group(0))
        if value is not None:
            out.append(value)
    return out


def written(text: str) -> Counter[Decimal]:
    """The numbers ``text`` writes, counted, in every form a tool argument may use them.

    >>> sorted(format(n, "f") for n in written("$1,200.50 and 8% of 3/4 of a dozen").elements())
    ['0.08', '0.75', '12', '1200.5', '3', '4', '8']
    >>> written("twenty-five")[Decimal(20)], written("half as many")[Decimal("0.5")]
    (1, 1)
    """
    found: Counter[Decimal] = Counter(_digits(text))
    for m in _PERCENT.finditer(text):
        value = _decimal(m.group(1))
        if value is not None:
            found[(value / 100).normalize()] += 1
    for m in _FRACTION.finditer(text):
        if int(m.group(2)):
            found[(Decimal(m.group(1)) / Decimal(m.group(2))).normalize()] += 1
    for m in _WORD.finditer(text):
        for word_value in _WORD_VALUES[m.group(1).lower()]:
            found[Decimal(word_value).normalize()] += 1
    return found


def used(argument: str) -> Counter[Decimal]:
    """The numbers a tool argument uses, counted (signs dropped: ``x=-3`` uses 3).

    >>> sorted(format(n, "f") for n in used('4,817*63 - 2.50 + sqrt(-4)').elements())
    ['2.5', '4', '4817', '63']
    """
    return Counter(_digits(argument))


def ungrounded(argument: str, sources: Iterable[str]) -> list[str]:
    """The numbers of ``argument`` that neither ``sources`` write nor ``CONSTANTS`` hold.

    >>> ungrounded("1960*40", ["I earn $19.60 an hour for 40 hours."])
    ['1960']
    >>> ungrounded("19.60*40", ["I earn $19.60 an hour for 40 hours."])
    []
    """
    known: set[Decimal] = set(CONSTANTS)
    for text in sources:
        known.update(written(text))
    return [format(n, "f") for n in used(argument) if n not in known]


def overused(argument: str, question: str) -> list[str]:
    """The numbers ``argument`` uses more often than ``question`` writes them (single use).

    >>> overused("98-(8+8)", "Shirley starts with 98 eggs. She buys 8 more.")
    ['8']
    >>> overused("98+8", "Shirley starts with 98 eggs. She buys 8 more."), overused(
    ...     "12*2+12", "Tom has 12 marbles; Ann has twice as many. How many together?")
    ([], [])
    """
    if _REPEATS.search(question):
        return []
    asked = written(question)
    return [
        format(n, "f")
        for n, count in used(argument).items()
        if n not in CONSTANTS and count > asked[n] > 0
    ]


__all__ = ["CONSTANTS", "overused", "ungrounded", "used", "written"]
