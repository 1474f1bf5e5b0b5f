# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""More train wordings of the Calculate and Solve skills: the ``calc_wide`` and ``solve_wide``
kinds of the mix.

Each family here is a base family of ``templates_calc`` or ``templates_solve`` with new train
phrasings only (``wider``, named ``<base>.wide``): the expression, the value check, the reply
and the held-out phrasings are the base family's, so the held-out split and the evaluation
cases do not change. A few Solve skills that had no train wording (a number plus a fraction of
itself; a total split so that one part is k times the other) get word problems of their own.
The wordings that are plain text are in ``data/phrasings/paraphrase.json``. Why the kinds
exist and how their wordings were checked against the held-out ones: docs/synthetic-data.md.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

from finetune.synth import templates_calc as calc
from finetune.synth import templates_solve as solve
from finetune.synth.base import Family, phrasings
from finetune.synth.entities import Pools
from finetune.synth.templates_solve import Problem, Word, number_problem


def wider(base: Family, train: Sequence[Any] | None = None, round_: str = "wide") -> Family:
    """``base`` with new train phrasings, named ``<base>.<round_>``; same make, held-out and
    weight (``templates_rebalance`` names its round ``more``). Phrasings not given are read
    from the data files by that name."""
    name = f"{base.name}.{round_}"
    return replace(
        base, name=name, train=tuple(train) if train is not None else phrasings(name, "train")
    )


# -------------------------------------------------------------------------------------------
# Calculate
# -------------------------------------------------------------------------------------------

mul = wider(calc.mul)  # fmt: skip
add = wider(calc.add)  # fmt: skip
sub = wider(calc.sub)  # fmt: skip
div = wider(calc.div)  # fmt: skip
steps = wider(calc.steps, [
    ("Subtract {b} from {a}, then multiply the result by {c}.", "({a}-{b})*{c}", lambda a, b, c: (a - b) * c),
    ("Divide {a} by {b} and then add {c}.", "{a}/{b}+{c}", lambda a, b, c: a / b + c),
    ("What is {a} divided by {b}, plus {c}?", "{a}/{b}+{c}", lambda a, b, c: a / b + c),
    ("Multiply the difference of {a} and {b} by {c}.", "({a}-{b})*{c}", lambda a, b, c: (a - b) * c),
    ("Increase {a} by {b}, then divide by {c}.", "({a}+{b})/{c}", lambda a, b, c: (a + b) / c),
])  # fmt: skip
power = wider(calc.power)  # fmt: skip
root = wider(calc.root)  # fmt: skip
factorial = wider(calc.factorial)  # fmt: skip
percent_of = wider(calc.percent_of)  # fmt: skip
percent_change = wider(calc.percent_change)  # fmt: skip
percent_what = wider(calc.percent_what)  # fmt: skip
big_words = wider(calc.big_words)  # fmt: skip
distance = wider(calc.distance)  # fmt: skip
shopping = wider(calc.shopping)  # fmt: skip
bill = wider(calc.bill)  # fmt: skip
discount = wider(calc.discount)  # fmt: skip
average = wider(calc.average)  # fmt: skip
convert = wider(calc.convert)  # fmt: skip
area = wider(calc.area)  # fmt: skip
time_units = wider(calc.time_units, [
    ("How many seconds are in {x} minutes?", "A minute has 60 seconds", "{x}*60", lambda x: x * 60, "seconds"),
    ("How many days are in {x} weeks?", "A week has 7 days", "{x}*7", lambda x: x * 7, "days"),
])  # fmt: skip
growth = wider(calc.growth)  # fmt: skip
rate = wider(calc.rate)  # fmt: skip
groups = wider(calc.groups)  # fmt: skip
pythagoras = wider(calc.pythagoras)  # fmt: skip

CALC: list[Family] = [
    mul, add, sub, div, steps, power, root, factorial, percent_of, percent_change,
    percent_what, big_words, distance, shopping, bill, discount, average, convert, area,
    time_units, growth, rate, groups, pythagoras,
]  # fmt: skip

# -------------------------------------------------------------------------------------------
# Solve
# -------------------------------------------------------------------------------------------

linear = wider(solve.linear)  # fmt: skip
system2 = wider(solve.system2)  # fmt: skip
system3 = wider(solve.system3)  # fmt: skip

# No "half": the held-out split asks "a number plus half of it", so training teaches the skill
# with other fractions and the evaluation still measures the step to a new one.
_PART = {3: "a third", 4: "a quarter", 5: "a fifth"}


def _with_part(rng: random.Random, _: Pools) -> Problem:
    """A number plus (or minus) a fraction of itself."""
    k = rng.choice([3, 4, 5])
    x = k * rng.randint(2, 40)
    plus = rng.random() < 0.7
    total = x + x // k if plus else x - x // k
    q = rng.choice(
        [
            f"If I add {_PART[k]} of a number to the number itself, I get {total}. What is the number?",
            f"A number increased by {_PART[k]} of itself is {total}. Find the number.",
            f"{total} is a number plus {_PART[k]} of that number. What is the number?",
        ]
        if plus
        else [
            f"A number minus {_PART[k]} of itself leaves {total}. What is the number?",
            f"Take {_PART[k]} of a number away from it and {total} remains. Find the number.",
        ]
    )
    eq = f"x{'+' if plus else '-'}x/{k}={total}"
    return number_problem(q, eq, x)


def _split_k(rng: random.Random, pools: Pools) -> Problem:
    """A total split into two parts, one k times the other."""
    y, k = rng.randint(2, 40), rng.choice([2, 3, 4, 5])
    total = y * (k + 1)
    word = {2: "twice", 3: "three times", 4: "four times", 5: "five times"}[k]
    a, b = rng.sample(pools.people, 2)
    q, names, what = rng.choice(
        [
            (
                f"A {total} m rope is cut into two pieces, one {word} as long as the other. How long is each piece?",
                (),
                "The pieces are {x} m and {y} m.",
            ),
            (
                f"{a} and {b} share {total} sweets so that {a} gets {k} times as many as {b}. How many does each get?",
                (a, b),
                f"{a} gets {{x}} and {b} gets {{y}}.",
            ),
            (
                f"A class of {total} has {k} times as many girls as boys. How many girls and boys?",
                (),
                "{x} girls and {y} boys.",
            ),
        ]
    )
    eqs = [f"x+y={total}", f"x={k}y"]
    return (
        q,
        f"Let x be the larger part and y the smaller: {eqs[0]} and {eqs[1]}.",
        eqs,
        {"x": Fraction(k * y), "y": Fraction(y)},
        what.format(x=k * y, y=y),
        [str(k * y), str(y)],
        names,
    )


def _diff_k(rng: random.Random, _: Pools) -> Problem:
    """One number k times another, with their difference given."""
    y, k = rng.randint(2, 40), rng.choice([2, 3, 4, 6])
    q = f"One number is {k} times another, and their difference is {(k - 1) * y}. Find the two numbers."
    eqs = [f"x={k}y", f"x-y={(k - 1) * y}"]
    return (q, f"Let x be the larger and y the smaller: {eqs[0]} and {eqs[1]}.", eqs, {"x": Fraction(k * y), "y": Fraction(y)}, f"The numbers are {k * y} and {y}.", [str(k * y), str(y)], ())  # fmt: skip


_WORD_WIDE: list[Word] = [_with_part, _split_k, _diff_k]
word = wider(solve.word, _WORD_WIDE)

SOLVE: list[Family] = [linear, system2, system3, word]

# What the two kinds draw from: the base families and their wider copies, equally weighted.
CALC_WIDER: list[Family] = [*calc.FAMILIES, *CALC]
SOLVE_WIDER: list[Family] = [*solve.FAMILIES, *SOLVE]
