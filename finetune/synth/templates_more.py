# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""A second round of train phrasings for Calculate and Solve skills, for the ``more`` kind.

The adapter trained on the ``calc_wide`` and ``solve_wide`` kinds still failed some skills
whose train wordings were lopsided or missing, not the skills themselves:

- ``calc.groups`` had four train wordings that multiply and one that divides, so "140 guests
  at tables of 14" became ``140*14``;
- ``calc.growth`` had one train wording for a shrinking quantity, so "shrinks by 5% a year"
  got ``(1+5/100)``;
- sales tax had two train wordings beside four for discounts, so "add 8% tax" gave the tax alone;
- systems of equations always named their unknowns before the equations ("Find x and y if
  ..."), so a request after them ("..., find a and b") became a third equation ``a=b``;
- no Solve train wording said "half of a number", so ``x/2`` was never written from it.

Each family here reuses a base family's ``make`` with new train phrasings only (named
``<base>.more``); the held-out phrasings are the base family's, so the evaluation set is
unchanged. As for ``templates_wide``, every phrasing was checked by hand against the held-out
ones: none reuses a held-out frame or situation. In particular the held-out "A number plus half
of it makes N" stays the only place a number plus half of itself is asked; the train wordings
below halve a number and add or subtract a constant, a different equation.

The kind has share 0 by default and comes last in the mix, so every earlier mix draws exactly
the data it drew before.

Measured, and not shipped: adapters trained with ``more=0.08`` (seeds 0 and 1) got every
held-out case of these clusters right and were worse elsewhere (2 other held-out cases turned
right and 10 or 12 wrong; 1 and 5 on ``eval_fresh.jsonl``). The hours-to-minutes wordings, for
one, made "Convert 361 minutes to hours" come out as ``361*60``. The kind stays so that run can
be reproduced; wordings aimed at an evaluation's misses teach those misses, not the skill.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from finetune.synth import templates_calc as calc
from finetune.synth import templates_solve as solve
from finetune.synth.base import Family
from finetune.synth.entities import Pools
from finetune.synth.templates_solve import Problem, Word, number_problem
from finetune.synth.templates_wide import wider


def more(base: Family, train: Sequence[Any]) -> Family:
    """``base`` with new train phrasings, named ``<base>.more``; same make, held-out and weight."""
    return wider(base, train, "more")


# -------------------------------------------------------------------------------------------
# Calculate
# -------------------------------------------------------------------------------------------

groups = more(calc.groups, [
    ("{total} books are packed in boxes of {k}. How many boxes are filled?", "/"),
    ("A minibus holds {k} people. How many minibuses carry {total} people?", "/"),
    ("{total} eggs go into cartons of {k}. How many cartons is that?", "/"),
    ("How many rows of {k} chairs make {total} chairs?", "/"),
    ("{n} vans carry {k} parcels each. How many parcels in all?", "*"),
])  # fmt: skip
growth = more(calc.growth, [
    ("A lake holds {P} fish, and the number falls by {p}% every year. How many fish are left after {n} years?", "decay"),
    ("A town of {P} loses {p}% of its people each year. What is its population after {n} years?", "decay"),
    ("A herd of {P} animals declines {p}% a year. How big is it after {n} years?", "decay"),
    ("{P} members, and the club gains {p}% more each year. How many after {n} years?", "grow"),
])  # fmt: skip
discount = more(calc.discount, [
    ("A {one} is {price} before a {p}% tax. What is the total with tax?", "tax"),
    ("With {p}% tax on top, what does a {price} {one} cost?", "tax"),
    ("What's the final cost of a {price} {one} once {p}% sales tax is included?", "tax"),
])  # fmt: skip
time_units = more(calc.time_units, [
    ("Turn {x} hours into minutes.", "An hour has 60 minutes", "{x}*60", lambda x: x * 60, "minutes"),
    ("{x} weeks: how many days is that?", "A week has 7 days", "{x}*7", lambda x: x * 7, "days"),
    ("The trip took {x} hours. In minutes, that's how many?", "An hour has 60 minutes", "{x}*60", lambda x: x * 60, "minutes"),
])  # fmt: skip

CALC: list[Family] = [groups, growth, discount, time_units]

# -------------------------------------------------------------------------------------------
# Solve
# -------------------------------------------------------------------------------------------

# The unknowns are named after the equations, so the model learns they are a request.
system2 = more(solve.system2, [
    "{sys}. Solve for {v1} and {v2}.",
    "Suppose {sys}. What do {v1} and {v2} equal?",
    "If {sys}, what are the values of {v1} and {v2}?",
    "{sys}\nWhat are {v1} and {v2}?",
    "Using {sys}, compute {v1} and {v2}.",
])  # fmt: skip
system3 = more(solve.system3, [
    "{sys}. Solve for x, y and z.",
    "Suppose {sys}. What do x, y and z equal?",
])  # fmt: skip


def _halved(rng: random.Random, _: Pools) -> Problem:
    """Half of a number, plus or minus a constant."""
    x, b = 2 * rng.randint(2, 60), rng.randint(1, 30)
    plus = rng.random() < 0.6
    total = x // 2 + b if plus else x // 2 - b
    q = rng.choice(
        [
            f"Half of a number, plus {b}, is {total}. What is the number?",
            f"If you halve a number and add {b}, you get {total}. Find the number.",
        ]
        if plus
        else [
            f"Half of a number, minus {b}, is {total}. What is the number?",
            f"When a number is halved and then {b} is taken away, {total} is left. Find the number.",
        ]
    )
    eq = f"x/2{'+' if plus else '-'}{b}={total}"
    return number_problem(q, eq, x)


_WORD_MORE: list[Word] = [_halved]
word = more(solve.word, _WORD_MORE)

SOLVE: list[Family] = [system2, system3, word]

# What the ``more`` kind draws from: only these, equally weighted by their base weights.
MORE: list[Family] = [*CALC, *SOLVE]
