# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""A second round of Calculate and Solve train wordings for skills whose wordings were
lopsided: the ``more`` kind of the mix (share 0 by default; no recipe uses it).

Division among "groups" wordings that mostly multiplied, shrinking growth, sales tax beside
discounts, unknowns named after a system's equations, and half of a number. Each family is a
base family with new train phrasings (named ``<base>.more``); the held-out phrasings are the
base family's. Adapters trained with it were worse elsewhere; the kind stays so that run can be
reproduced (docs/synthetic-data.md).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from finetune.synth import templates_calc as calc
from finetune.synth import templates_solve as solve
from finetune.synth.base import Family
from finetune.synth.entities import Pools
from finetune.synth.templates_paraphrase import wider
from finetune.synth.templates_solve import Problem, Word, number_problem


def more(base: Family, train: Sequence[Any] | None = None) -> Family:
    """``base`` with new train phrasings, named ``<base>.more``; same make, held-out and weight
    (phrasings not given are read from the data files)."""
    return wider(base, train, "more")


# -------------------------------------------------------------------------------------------
# Calculate
# -------------------------------------------------------------------------------------------

groups = more(calc.groups)  # fmt: skip
growth = more(calc.growth)  # fmt: skip
discount = more(calc.discount)  # fmt: skip
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
system2 = more(solve.system2)  # fmt: skip
system3 = more(solve.system3)  # fmt: skip


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
