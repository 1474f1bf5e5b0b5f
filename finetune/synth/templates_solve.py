# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""Solve templates: equations and systems, written out in full, separated by ``;``.

The argument is the user's equation without spaces (the solver reads ``3(x-2)=2x+5`` as
written, implicit multiplication included), so the model copies rather than rewrites. Systems
always carry every equation: "Two equations, two unknowns; I write both." Word problems name
their unknown in the thought ("Let x be the number: 3x+5=26.") before writing the equation.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction

from finetune.synth.base import Draw, Family, Sample, family
from finetune.synth.entities import Pools
from finetune.synth.numfmt import say
from moss_core.protocol import Call


def compact(equation: str) -> str:
    """The equation as the Solve argument: spaces removed.

    >>> compact("3(x - 2) = 2x + 5")
    '3(x-2)=2x+5'
    """
    return "".join(equation.split())


def show_value(v: Fraction) -> str:
    """A solution as a reply states it: ``5``, ``-3``, ``7/2 (about 3.5)``.

    >>> show_value(Fraction(5)), show_value(Fraction(17, 3))
    ('5', '17/3 (about 5.67)')
    """
    if v.denominator == 1:
        return str(v.numerator)
    return f"{v} (about {say(float(v))})"


def solve_sample(
    d: Draw,
    human: str,
    thought: str,
    equations: list[str],
    solution: dict[str, Fraction],
    reply: str,
    *,
    answers: list[str] | None = None,
    entities: tuple[str, ...] = (),
) -> Sample:
    """A one-call Solve sample; ``equations`` are already compact."""
    if answers is None:
        answers = [
            str(v.numerator) if v.denominator == 1 else say(float(v)) for v in solution.values()
        ]
    return Sample(
        template=d.template,
        tool="Solve",
        human=human,
        thoughts=thought,
        calls=[Call("Solve", ";".join(equations))],
        reply=reply,
        expected=[{k: float(v) for k, v in solution.items()}],
        answers=answers,
        entities=entities,
    )


def _term(coef: int, var: str, first: bool, star: bool) -> str:
    """``3x``, ``- x``, ``+ 2y``: one linear term as people write it."""
    sign = "" if first and coef > 0 else ("- " if coef < 0 else "+ ")
    if first and coef < 0:
        sign = "-"
    a = abs(coef)
    body = var if a == 1 else (f"{a}*{var}" if star else f"{a}{var}")
    return f"{sign}{body}"


def _linear(coefs: dict[str, int], star: bool) -> str:
    parts = [
        _term(c, v, i == 0, star) for i, (v, c) in enumerate((v, c) for v, c in coefs.items() if c)
    ]
    return " ".join(parts)


def _nonzero(rng: random.Random, lo: int, hi: int) -> int:
    while True:
        k = rng.randint(lo, hi)
        if k:
            return k


# -------------------------------------------------------------------------------------------
# One equation as written
# -------------------------------------------------------------------------------------------

_VARS = ["x", "x", "x", "y", "n", "t", "a", "z"]


def _one_equation(rng: random.Random, v: str) -> tuple[str, Fraction]:
    """A linear equation in ``v`` (as typed, with spaces) and its solution."""
    s = rng.randint(-12, 30)
    a, b = rng.randint(2, 12), rng.randint(1, 40)
    star = rng.random() < 0.2
    av = f"{a}*{v}" if star else f"{a}{v}"
    shape = rng.randrange(6)
    if shape == 0:  # a v + b = c
        if rng.random() < 0.15:
            c = rng.randint(5, 90)
            return f"{av} + {b} = {c}", Fraction(c - b, a)
        return f"{av} + {b} = {a * s + b}", Fraction(s)
    if shape == 1:  # a v - b = c v + d
        c = rng.randint(1, a - 1) if a > 2 else 1
        d = (a - c) * s - b
        cv = v if c == 1 else (f"{c}*{v}" if star else f"{c}{v}")
        right = cv if d == 0 else f"{cv} + {d}" if d > 0 else f"{cv} - {-d}"
        return f"{av} - {b} = {right}", Fraction(s)
    if shape == 2:  # a(v + b) = c
        sb = f"{v} + {b}" if rng.random() < 0.5 else f"{v} - {b}"
        inner = s + b if "+" in sb else s - b
        return f"{a}({sb}) = {a * inner}", Fraction(s)
    if shape == 3:  # a(v - b) = c(v + d) + e
        c, dd = rng.randint(1, 9), rng.randint(1, 9)
        if c == a:
            c += 1
        e = a * (s - b) - c * (s + dd)
        tail = "" if e == 0 else f" + {e}" if e > 0 else f" - {-e}"
        return f"{a}({v} - {b}) = {c}({v} + {dd}){tail}", Fraction(s)
    if shape == 4:  # v/a + b = c
        s = a * rng.randint(-5, 15)
        return f"{v}/{a} + {b} = {s // a + b}", Fraction(s)
    c = rng.randint(1, 30)  # a v + b = c v + d, with v on both sides
    if c == a:
        c = a + 1
    d = (a - c) * s + b
    cv = f"{c}*{v}" if star else f"{c}{v}"
    right = cv if d == 0 else f"{cv} + {d}" if d > 0 else f"{cv} - {-d}"
    return f"{av} + {b} = {right}", Fraction(s)


@family("solve.linear", "Solve", weight=3.0)
def linear(d: Draw) -> Sample:
    v = d.pick(_VARS)
    eq, s = _one_equation(d.rng, v)
    arg = compact(eq)
    thought = d.pick(
        [
            f"One equation with the unknown {v}: {arg}.",
            f"This is an equation in {v}, so I solve {arg}.",
        ]
    )
    reply = d.pick([f"{v} = {show_value(s)}.", f"The solution is {v} = {show_value(s)}."])
    return solve_sample(d, d.text(eq=eq, v=v), thought, [arg], {v: s}, reply)


# -------------------------------------------------------------------------------------------
# Systems
# -------------------------------------------------------------------------------------------

_PAIRS = [("x", "y"), ("x", "y"), ("x", "y"), ("a", "b"), ("m", "n"), ("p", "q"), ("u", "v")]
_JOINS = [" and ", ", ", "; ", "\n", " and also "]


def _system(rng: random.Random, names: tuple[str, ...]) -> tuple[list[str], dict[str, Fraction]]:
    """Independent linear equations in ``names`` with an integer solution, as typed."""
    sol = {v: rng.randint(-6, 20) for v in names}
    star = rng.random() < 0.15
    while True:
        rows = [{v: rng.choice([1, 1, 1, 2, 3, 4, 5, -1, -2, 6, 7]) for v in names} for _ in names]
        if len(names) == 3:
            for row in rows:  # some equations leave an unknown out
                if rng.random() < 0.4:
                    row[rng.choice(names)] = 0
        det = _det([[row[v] for v in names] for row in rows])
        if det != 0 and all(any(row.values()) for row in rows):
            break
    out = []
    for row in rows:
        total = sum(row[v] * sol[v] for v in names)
        text = f"{_linear(row, star)} = {total}"
        if (
            len(names) == 2
            and rng.random() < 0.12
            and row[names[0]] == row[names[1]]
            and row[names[0]] > 1
        ):
            k = row[names[0]]
            text = f"{k}({names[0]} + {names[1]}) = {total}"
        out.append(text)
    return out, {v: Fraction(sol[v]) for v in names}


def _det(m: list[list[int]]) -> int:
    if len(m) == 2:
        return m[0][0] * m[1][1] - m[0][1] * m[1][0]
    return (
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    )


def _listing(d: Draw, equations: list[str]) -> str:
    join = d.pick(_JOINS)
    if join == "\n":
        return "\n" + "\n".join(equations)
    if join == " and " and len(equations) == 3:
        return f"{equations[0]}, {equations[1]} and {equations[2]}"
    return join.join(equations)


@family("solve.system2", "Solve", weight=3.0)
def system2(d: Draw) -> Sample:
    v1, v2 = d.pick(_PAIRS)
    eqs, sol = _system(d.rng, (v1, v2))
    args = [compact(e) for e in eqs]
    arg = ";".join(args)
    thought = d.pick(
        [
            f"Two equations, two unknowns; I write both: {arg}.",
            f"A system of two equations, so I pass both: {arg}.",
        ]
    )
    reply = f"{v1} = {show_value(sol[v1])} and {v2} = {show_value(sol[v2])}."
    human = d.text(sys=_listing(d, eqs), v1=v1, v2=v2).replace(" \n", "\n")
    return solve_sample(d, human, thought, args, sol, reply)


@family("solve.system3", "Solve", weight=1.2)
def system3(d: Draw) -> Sample:
    eqs, sol = _system(d.rng, ("x", "y", "z"))
    args = [compact(e) for e in eqs]
    arg = ";".join(args)
    thought = f"Three equations, three unknowns; I write all three: {arg}."
    reply = (
        f"x = {show_value(sol['x'])}, y = {show_value(sol['y'])} and z = {show_value(sol['z'])}."
    )
    human = d.text(sys=_listing(d, eqs)).replace(" \n", "\n")
    return solve_sample(d, human, thought, args, sol, reply)


# -------------------------------------------------------------------------------------------
# Word problems
# -------------------------------------------------------------------------------------------

# A word problem's parts: question, thought, equations, solution, reply, answers, names used.
Problem = tuple[str, str, list[str], dict[str, Fraction], str, list[str], tuple[str, ...]]
Word = Callable[[random.Random, Pools], Problem]


def number_problem(question: str, eq: str, x: int) -> Problem:
    """A word problem with one unknown, "the number" ``x``, which ``eq`` solves."""
    return (question, f"Let x be the number: {eq}.", [eq], {"x": Fraction(x)}, f"The number is {x}.", [str(x)], ())  # fmt: skip


def _more_than(rng: random.Random, _: Pools) -> Problem:
    x, a, b = rng.randint(2, 40), rng.randint(2, 9), rng.randint(1, 30)
    words = {
        2: "twice",
        3: "three times",
        4: "four times",
        5: "five times",
        6: "six times",
        7: "seven times",
        8: "eight times",
        9: "nine times",
    }
    q = f"{b} more than {words[a]} a number is {a * x + b}. What is the number?"
    eq = f"{a}x+{b}={a * x + b}"
    return number_problem(q, eq, x)


def _less_than(rng: random.Random, _: Pools) -> Problem:
    x, a, b = rng.randint(3, 40), rng.randint(2, 9), rng.randint(1, 20)
    q = f"If I multiply a number by {a} and subtract {b}, I get {a * x - b}. What is the number?"
    eq = f"{a}x-{b}={a * x - b}"
    return number_problem(q, eq, x)


def _consecutive(rng: random.Random, _: Pools) -> Problem:
    x = rng.randint(1, 90)
    q = f"Three consecutive integers add up to {3 * x + 3}. What are they?"
    eq = f"x+(x+1)+(x+2)={3 * x + 3}"
    return (
        q,
        f"Let x be the smallest: {eq}.",
        [eq],
        {"x": Fraction(x)},
        f"The integers are {x}, {x + 1} and {x + 2}.",
        [str(x)],
        (),
    )


def _ages(rng: random.Random, pools: Pools) -> Problem:
    a, b = rng.sample(pools.people, 2)
    y, k = rng.randint(3, 50), rng.randint(1, 15)
    q = f"{a} is {k} years older than {b}. Together their ages add up to {2 * y + k}. How old is {b}?"
    eq = f"x+(x+{k})={2 * y + k}"
    return (
        q,
        f"Let x be {b}'s age, so {a} is x+{k}: {eq}.",
        [eq],
        {"x": Fraction(y)},
        f"{b} is {y} and {a} is {y + k}.",
        [str(y)],
        (a, b),
    )


def _perimeter(rng: random.Random, _: Pools) -> Problem:
    w, k = rng.randint(2, 40), rng.randint(1, 20)
    p = 2 * (w + w + k)
    q = f"A rectangle is {k} m longer than it is wide, and its perimeter is {p} m. How wide is it?"
    eq = f"2(x+(x+{k}))={p}"
    return (
        q,
        f"Let x be the width; the length is x+{k}: {eq}.",
        [eq],
        {"x": Fraction(w)},
        f"It is {w} m wide and {w + k} m long.",
        [str(w)],
        (),
    )


def _savings(rng: random.Random, pools: Pools) -> Problem:
    name = rng.choice(pools.people)
    start, k, weeks = rng.randint(0, 200), rng.randint(5, 60), rng.randint(2, 30)
    q = f"{name} has ${start} and saves ${k} a week. After how many weeks will {name} have ${start + k * weeks}?"
    eq = f"{start}+{k}x={start + k * weeks}"
    return (
        q,
        f"Let x be the number of weeks: {eq}.",
        [eq],
        {"x": Fraction(weeks)},
        f"After {weeks} weeks.",
        [str(weeks)],
        (name,),
    )


def _two_counts(
    x: int, y: int, a: int, b: int, question: str, let: str, answer: str, names: tuple[str, ...]
) -> Problem:
    """x and y things whose count x+y and weighted total a*x+b*y are given (tickets, coins...)."""
    eqs = [f"x+y={x + y}", f"{a}x+{b}y={a * x + b * y}"]
    return (
        question,
        f"Let {let}: {eqs[0]} and {eqs[1]}.",
        eqs,
        {"x": Fraction(x), "y": Fraction(y)},
        answer,
        [str(x), str(y)],
        names,
    )


def _tickets(rng: random.Random, _: Pools) -> Problem:
    pa, pc = rng.randint(8, 25), rng.randint(3, 7)
    x, y = rng.randint(5, 120), rng.randint(5, 120)
    q = f"Adult tickets cost ${pa} and child tickets ${pc}. {x + y} tickets were sold for ${pa * x + pc * y}. How many of each were sold?"
    let = "x be adult and y child tickets"
    return _two_counts(x, y, pa, pc, q, let, f"{x} adult tickets and {y} child tickets.", ())


def _sum_diff(rng: random.Random, _: Pools) -> Problem:
    x, y = rng.randint(10, 200), rng.randint(1, 150)
    if y > x:
        x, y = y, x
    q = f"Two numbers add up to {x + y} and their difference is {x - y}. What are the numbers?"
    eqs = [f"x+y={x + y}", f"x-y={x - y}"]
    return (
        q,
        f"Let x and y be the numbers: {eqs[0]} and {eqs[1]}.",
        eqs,
        {"x": Fraction(x), "y": Fraction(y)},
        f"The numbers are {x} and {y}.",
        [str(x), str(y)],
        (),
    )


def _coins(rng: random.Random, pools: Pools) -> Problem:
    name = rng.choice(pools.people)
    x, y = rng.randint(2, 40), rng.randint(2, 40)
    q = f"{name} has {x + y} coins, all 5-cent and 10-cent coins, worth {5 * x + 10 * y} cents in total. How many of each?"
    let = "x be the 5-cent and y the 10-cent coins"
    answer = f"{x} five-cent coins and {y} ten-cent coins."
    return _two_counts(x, y, 5, 10, q, let, answer, (name,))


def _farm(rng: random.Random, _: Pools) -> Problem:
    x, y = rng.randint(2, 60), rng.randint(2, 60)
    q = f"A farm has chickens and cows: {x + y} heads and {2 * x + 4 * y} legs. How many chickens and how many cows?"
    return _two_counts(x, y, 2, 4, q, "x be chickens and y cows", f"{x} chickens and {y} cows.", ())


def _twice_as_old(rng: random.Random, pools: Pools) -> Problem:
    a, b = rng.sample(pools.people, 2)
    y, k = rng.randint(3, 30), rng.choice([2, 3, 4])
    word = {2: "twice", 3: "three times", 4: "four times"}[k]
    q = f"{a} is {word} as old as {b}, and together they are {k * y + y}. How old is each?"
    eqs = [f"x={k}y", f"x+y={k * y + y}"]
    t = f"Let x be {a}'s age and y {b}'s: {eqs[0]} and {eqs[1]}."
    return (
        q,
        t,
        eqs,
        {"x": Fraction(k * y), "y": Fraction(y)},
        f"{a} is {k * y} and {b} is {y}.",
        [str(k * y), str(y)],
        (a, b),
    )


# Held-out word problems: new situations, same skills.
def _four_less(rng: random.Random, _: Pools) -> Problem:
    x, b = rng.randint(3, 40), rng.randint(2, 15)
    q = f"{b} less than four times a number equals {4 * x - b}. Find the number."
    eq = f"4x-{b}={4 * x - b}"
    return number_problem(q, eq, x)


def _half(rng: random.Random, _: Pools) -> Problem:
    x = 2 * rng.randint(2, 60)
    q = f"A number plus half of it makes {x + x // 2}. What is the number?"
    eq = f"x+x/2={x + x // 2}"
    return number_problem(q, eq, x)


def _pens(rng: random.Random, pools: Pools) -> Problem:
    name = rng.choice(pools.people)
    pp = rng.randint(1, 4)
    pn = rng.randint(pp + 1, 9)
    x, y = rng.randint(1, 20), rng.randint(1, 20)
    q = f"Pens cost ${pp} and notebooks ${pn}. {name} bought {x + y} items for ${pp * x + pn * y}. How many pens and notebooks?"
    let = "x be pens and y notebooks"
    return _two_counts(x, y, pp, pn, q, let, f"{x} pens and {y} notebooks.", (name,))


def _times_other(rng: random.Random, _: Pools) -> Problem:
    y, k = rng.randint(2, 40), rng.choice([2, 3, 4, 5])
    q = f"The sum of two numbers is {y * (k + 1)}, and one is {k} times the other. Find both."
    eqs = [f"x+y={y * (k + 1)}", f"x={k}y"]
    return (
        q,
        f"Let x be the larger and y the smaller: {eqs[0]} and {eqs[1]}.",
        eqs,
        {"x": Fraction(k * y), "y": Fraction(y)},
        f"The numbers are {k * y} and {y}.",
        [str(k * y), str(y)],
        (),
    )


_WORD_TRAIN: list[Word] = [
    _more_than,
    _less_than,
    _consecutive,
    _ages,
    _perimeter,
    _savings,
    _tickets,
    _sum_diff,
    _coins,
    _farm,
    _twice_as_old,
]
_WORD_HELDOUT: list[Word] = [_four_less, _half, _pens, _times_other]


@family("solve.word", "Solve", train=_WORD_TRAIN, heldout=_WORD_HELDOUT, weight=3.0)
def word(d: Draw) -> Sample:
    question, thought, eqs, sol, reply, answers, names = d.phrasing(d.rng, d.pools)
    return solve_sample(d, question, thought, eqs, sol, reply, answers=answers, entities=names)


FAMILIES: list[Family] = [linear, system2, system3, word]
