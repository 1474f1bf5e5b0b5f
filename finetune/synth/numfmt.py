"""Numbers as people write them in questions, and as replies and evaluations state them.

Questions use many formats (``4,817``, ``$3.49``, ``15%``, ``2.5 million``); the expression the
model writes always uses the plain form (``4817``), which ``plain`` gives. Replies state
results through ``say``, rounded the way a person would, and ``accepted_answers`` lists the
strings an evaluation accepts for a value.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

# Small numbers as words: questions sometimes spell them out ("twelve apples").
WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


def plain(x: float) -> str:
    """The number as it goes into an expression: no separators, no trailing zeros.

    >>> plain(4817), plain(12.50), plain(0.075)
    ('4817', '12.5', '0.075')
    """
    if float(x).is_integer():
        return str(int(x))
    text = format(Decimal(str(x)).normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def commas(x: float) -> str:
    """The number with thousands separators: ``4,817`` or ``12,345.5``.

    >>> commas(4817), commas(1234567.25)
    ('4,817', '1,234,567.25')
    """
    whole, _, frac = plain(x).partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{int(whole.lstrip('-')):,}"
    return sign + grouped + (f".{frac}" if frac else "")


def written(x: float, rng: random.Random, *, separators: float = 0.5, words: float = 0.0) -> str:
    """The number as a question might write it: plain, with separators, or in words.

    >>> written(4817, random.Random(1), separators=1.0)
    '4,817'
    """
    if float(x).is_integer() and 0 <= x < len(WORDS) and rng.random() < words:
        return WORDS[int(x)]
    if abs(x) >= 1000 and rng.random() < separators:
        return commas(x)
    return plain(x)


def money(x: float, symbol: str = "$") -> str:
    """A price as written in text: ``$3.49``, ``$120``, ``$1,250``.

    >>> money(3.5), money(1250), money(1234.5)
    ('$3.50', '$1,250', '$1,234.50')
    """
    if float(x).is_integer():
        return f"{symbol}{commas(x)}"
    cents = Decimal(repr(float(x))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    whole, _, frac = format(cents, "f").partition(".")
    return f"{symbol}{int(whole):,}.{frac}"


def ordinal(n: int) -> str:
    """``17`` -> ``17th``; used for powers ("2 to the 17th").

    >>> ordinal(2), ordinal(3), ordinal(11), ordinal(21)
    ('2nd', '3rd', '11th', '21st')
    """
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _round(x: float, places: int, mode: str = ROUND_HALF_UP) -> str:
    q = Decimal(1).scaleb(-places)
    text = format(Decimal(repr(float(x))).quantize(q, rounding=mode), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def places_for(x: float) -> int:
    """Decimal places a reply keeps: 2 for ordinary sizes, more for small numbers.

    >>> places_for(36.257), places_for(0.5714), places_for(0.00123)
    (2, 4, 5)
    """
    if x == 0 or abs(x) >= 1:
        return 2
    return max(4, 2 - math.floor(math.log10(abs(x))))


def is_whole(x: float) -> bool:
    """True when ``x`` is an integer up to float noise (``60.00000000000001``)."""
    return abs(x - round(x)) <= 1e-9 * max(1.0, abs(x))


def say(x: float, *, money_places: bool = False) -> str:
    """The value as a reply states it: whole numbers exactly, others rounded.

    >>> say(303471.0), say(0.5714285714285714), say(227.49999999), say(12.5, money_places=True)
    ('303471', '0.5714', '227.5', '12.50')
    """
    if is_whole(x):
        return str(round(x))
    if money_places:
        return format(Decimal(repr(float(x))).quantize(Decimal("0.01"), ROUND_HALF_UP), "f")
    return _round(x, places_for(x))


def accepted_answers(x: float) -> list[str]:
    """Strings an evaluation accepts for the value ``x`` in a reply (rounded or cut).

    >>> accepted_answers(0.5714285714285714)
    ['0.5714', '0.57', '0.571', '0.57143', '0.57142']
    >>> accepted_answers(131072.0)
    ['131072']
    """
    if is_whole(x):
        return [str(round(x))]
    out = [say(x)]
    for places in (2, 3, places_for(x) + 1):
        for mode in (ROUND_HALF_UP, ROUND_DOWN):
            text = _round(x, places, mode)
            if text not in out and text.strip("-0.") != "":
                out.append(text)
    return out
