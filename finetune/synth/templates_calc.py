# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""Calculate templates: from the way people ask to a clean expression.

Each family maps one kind of request to one expression shape, and its Inner Thoughts state the
step that makes the expression obvious ("2 to the 17th is 2^17.", "The area is length times
width: 12.5*8."). Expressions never carry thousands separators, units or words: the numbers go
in as ``numfmt.plain`` writes them. Each family computes its value in Python independently of
the expression text; generation checks the real calculator agrees.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

from finetune.synth.base import Draw, Family, Sample, family
from finetune.synth.numfmt import (
    accepted_answers,
    money,
    ordinal,
    plain,
    say,
    written,
)
from moss_core.protocol import Call


def calc(
    d: Draw,
    human: str,
    thought: str,
    expr: str,
    value: float,
    reply: str,
    *,
    answers: Sequence[str] | None = None,
    entities: Sequence[str] = (),
) -> Sample:
    """A one-call Calculate sample; the answers include the form the reply states."""
    stated = [t for t in (say(value), say(value, money_places=True)) if t in reply]
    accepted = [*stated, *(answers if answers is not None else accepted_answers(value))]
    return Sample(
        template=d.template,
        tool="Calculate",
        human=human,
        thoughts=thought,
        calls=[Call("Calculate", expr)],
        reply=reply,
        expected=[float(value)],
        answers=list(dict.fromkeys(accepted)),
        entities=tuple(entities),
    )


def operand(rng: random.Random, big: float = 0.5) -> float:
    """A two- to five-digit integer, now and then a decimal."""
    r = rng.random()
    if r < 0.15:
        return round(rng.uniform(1, 500), rng.choice([1, 2]))
    if r < 0.15 + big * 0.85:
        return rng.randint(1000, 99999)
    return rng.randint(12, 999)


def small(rng: random.Random, lo: int = 2, hi: int = 99) -> int:
    return rng.randint(lo, hi)


def w(d: Draw, x: float, words: float = 0.0) -> str:
    """``x`` as the question writes it (separators half the time for big numbers)."""
    return written(x, d.rng, separators=0.6, words=words)


def separators_note(*shown: str) -> str:
    """A thought prefix reminding that ``4,817`` is written ``4817`` in the expression."""
    return "I drop the thousands separators. " if any("," in s for s in shown) else ""


# -------------------------------------------------------------------------------------------
# Plain arithmetic
# -------------------------------------------------------------------------------------------


@family("calc.mul", "Calculate", weight=1.2)
def mul(d: Draw) -> Sample:
    a, b = operand(d.rng), small(d.rng, 3, 999)
    if d.rng.random() < 0.5:
        a, b = b, a
    wa, wb = w(d, a, 0.1), w(d, b, 0.1)
    expr = f"{plain(a)}*{plain(b)}"
    r = say(a * b)
    reply = d.pick([f"{plain(a)} × {plain(b)} = {r}.", f"{wa} times {wb} is {r}.", f"It's {r}."])
    thought = separators_note(wa, wb) + f"I multiply: {expr}."
    return calc(d, d.text(a=wa, b=wb), thought, expr, a * b, reply)


@family("calc.add", "Calculate", weight=1.0)
def add(d: Draw) -> Sample:
    n = d.rng.choice([2, 2, 3, 3, 4, 5])
    xs = [operand(d.rng, 0.4) for _ in range(n)]
    shown = [w(d, x) for x in xs]
    listed = " and ".join(shown) if n == 2 else ", ".join(shown[:-1]) + " and " + shown[-1]
    human = d.text(listed=listed, plussed=" + ".join(shown))
    if "What is" in human and n == 2:
        human = human.replace(" and ", " plus ")
    expr = "+".join(plain(x) for x in xs)
    value = sum(xs)
    thought = separators_note(*shown) + f"I add all {n} numbers: {expr}."
    reply = d.pick(
        [f"The sum is {say(value)}.", f"{' + '.join(plain(x) for x in xs)} = {say(value)}."]
    )
    return calc(d, human, thought, expr, value, reply)


@family("calc.sub", "Calculate", weight=1.0)
def sub(d: Draw) -> Sample:
    a, b = operand(d.rng), operand(d.rng, 0.3)
    if b > a:
        a, b = b, a
    wa, wb = w(d, a), w(d, b)
    expr = f"{plain(a)}-{plain(b)}"
    value = a - b
    # Phrasings that name b first ("subtract b from a") are where models flip the operands.
    order = "The order matters: " if d.phrasing[1] else ""
    thought = separators_note(wa, wb) + f"{order}{plain(a)} minus {plain(b)} is {expr}."
    reply = d.pick([f"{plain(a)} − {plain(b)} = {say(value)}.", f"That leaves {say(value)}."])
    return calc(d, d.text(a=wa, b=wb), thought, expr, value, reply)


@family("calc.div", "Calculate", weight=1.0)
def div(d: Draw) -> Sample:
    b = small(d.rng, 2, 60)
    a = b * small(d.rng, 3, 2000) if d.rng.random() < 0.6 else operand(d.rng)
    wa, wb = w(d, a), w(d, b, 0.1)
    expr = f"{plain(a)}/{plain(b)}"
    value = a / b
    thought = separators_note(wa, wb) + f"I divide {plain(a)} by {plain(b)}: {expr}."
    reply = d.pick([f"{plain(a)} ÷ {plain(b)} = {say(value)}.", f"It comes to {say(value)}."])
    return calc(d, d.text(a=wa, b=wb), thought, expr, value, reply)


def _expression(rng: random.Random) -> tuple[str, str, float]:
    """A short bracketed expression as typed by a person, its clean form and its value."""
    a, b, c = small(rng, 2, 90), small(rng, 2, 40), small(rng, 2, 25)
    x = round(rng.uniform(1, 20), 1)
    shapes: list[tuple[str, str, Callable[[], float]]] = [
        (f"({a} + {b}) * {c}", f"({a}+{b})*{c}", lambda: (a + b) * c),
        (f"{a} * ({b} - {c})", f"{a}*({b}-{c})", lambda: a * (b - c)),
        (f"({a} - {b}) / {c}", f"({a}-{b})/{c}", lambda: (a - b) / c),
        (f"{a} + {b} * {c}", f"{a}+{b}*{c}", lambda: a + b * c),
        (f"({a} + {plain(x)}) × {c}", f"({a}+{plain(x)})*{c}", lambda: (a + x) * c),
        (f"{a}² + {b}²", f"{a}^2+{b}^2", lambda: a**2 + b**2),
        (f"{a * c} ÷ ({b} + {c})", f"{a * c}/({b}+{c})", lambda: a * c / (b + c)),
        (f"{plain(x)} * ({a} + {b}) - {c}", f"{plain(x)}*({a}+{b})-{c}", lambda: x * (a + b) - c),
    ]
    shown, expr, fn = rng.choice(shapes)
    return shown, expr, fn()


@family("calc.expression", "Calculate", weight=1.0)
def expression(d: Draw) -> Sample:
    shown, expr, value = _expression(d.rng)
    thought = d.pick([f"I keep the brackets: {expr}.", f"I write it as an expression: {expr}."])
    return calc(d, d.text(e=shown), thought, expr, value, f"{shown} = {say(value)}.")


# (text, expression, value) with slots a, b, c: the brackets come from the wording.
_STEPS: list[tuple[str, str, Callable[[float, float, float], float]]] = [
    ("Add {a} and {b}, then multiply by {c}.", "({a}+{b})*{c}", lambda a, b, c: (a + b) * c),
    ("Subtract {b} from {a} and divide the result by {c}.", "({a}-{b})/{c}", lambda a, b, c: (a - b) / c),
    ("Multiply {a} by {b} and then add {c}.", "{a}*{b}+{c}", lambda a, b, c: a * b + c),
    ("Take the sum of {a} and {b} and divide it by {c}.", "({a}+{b})/{c}", lambda a, b, c: (a + b) / c),
    ("What is {c} times the sum of {a} and {b}?", "{c}*({a}+{b})", lambda a, b, c: c * (a + b)),
    ("Divide {a} by {c}, then subtract {b}.", "{a}/{c}-{b}", lambda a, b, c: a / c - b),
    ("Double the difference between {a} and {b}, then add {c}.", "2*({a}-{b})+{c}", lambda a, b, c: 2 * (a - b) + c),
    ("What is {a} plus {b}, all times {c}?", "({a}+{b})*{c}", lambda a, b, c: (a + b) * c),
    ("Subtract {c} from the product of {a} and {b}.", "{a}*{b}-{c}", lambda a, b, c: a * b - c),
    ("Square the sum of {a} and {b}.", "({a}+{b})^2", lambda a, b, c: (a + b) ** 2),
]  # fmt: skip
_STEPS_HELDOUT: list[tuple[str, str, Callable[[float, float, float], float]]] = [
    ("First add {a} to {b}, then triple it.", "({a}+{b})*3", lambda a, b, c: (a + b) * 3),
    ("Take {a} minus {b}, and multiply that by {c}.", "({a}-{b})*{c}", lambda a, b, c: (a - b) * c),
    ("Halve the sum of {a} and {b}.", "({a}+{b})/2", lambda a, b, c: (a + b) / 2),
    ("Add {c} to the quotient of {a} and {b}.", "{a}/{b}+{c}", lambda a, b, c: a / b + c),
]  # fmt: skip


@family("calc.steps", "Calculate", train=_STEPS, heldout=_STEPS_HELDOUT, weight=1.2)
def steps(d: Draw) -> Sample:
    _, pattern, fn = d.phrasing
    a: float = small(d.rng, 20, 400)
    b, c = small(d.rng, 2, 19), small(d.rng, 2, 12)
    if d.rng.random() < 0.25:
        a = round(d.rng.uniform(20, 300), 1)
    expr = pattern.format(a=plain(a), b=plain(b), c=plain(c))
    value = fn(a, b, c)
    thought = d.pick(
        [f"Brackets keep the order of the steps: {expr}.", f"As one expression: {expr}."]
    )
    return calc(
        d,
        d.text(a=plain(a), b=plain(b), c=plain(c)),
        thought,
        expr,
        value,
        f"The result is {say(value)}.",
    )


# -------------------------------------------------------------------------------------------
# Powers, roots, factorials
# -------------------------------------------------------------------------------------------


@family("calc.power", "Calculate", weight=1.2)
def power(d: Draw) -> Sample:
    fixed = d.phrasing[1]
    e = (
        fixed
        if isinstance(fixed, int)
        else d.rng.choice([2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 16, 17, 20])
    )
    b: float = small(d.rng, 2, 9) if e > 8 else small(d.rng, 2, 99 if e <= 3 else 25)
    if e > 12:
        b = d.rng.choice([2, 3])
    if d.rng.random() < 0.1 and e <= 3:
        b = round(d.rng.uniform(1.1, 20), 1)
    expr = f"{plain(b)}^{e}"
    word = {2: "squared", 3: "cubed"}.get(e, f"to the {ordinal(e)}")
    thought = f"{plain(b)} {word} is {expr}."
    value = b**e
    human = d.text(b=plain(b), e=e, eth=ordinal(e))
    return calc(d, human, thought, expr, value, f"{plain(b)}^{e} = {say(value)}.")


@family("calc.root", "Calculate", weight=1.0)
def root(d: Draw) -> Sample:
    degree = d.phrasing[1]
    if degree == 2:
        base = small(d.rng, 4, 250)
        n = base * base if d.rng.random() < 0.7 else small(d.rng, 2, 5000)
        expr, value, name = f"sqrt({n})", math.sqrt(n), "square root"
    else:
        base = small(d.rng, 2, 40)
        n = base**3 if d.rng.random() < 0.8 else small(d.rng, 2, 5000)
        expr, value, name = f"cbrt({n})", n ** (1 / 3), "cube root"
    wn = w(d, n)
    thought = f"The {name} of {n} is {expr}."
    return calc(d, d.text(n=wn), thought, expr, value, f"The {name} of {wn} is {say(value)}.")


@family("calc.factorial", "Calculate", weight=0.5)
def factorial(d: Draw) -> Sample:
    n = small(d.rng, 3, 15)
    expr = f"factorial({n})"
    if d.phrasing[1]:
        thought = f"Arranging {n} things in order gives {n} factorial: {expr}."
        reply = f"There are {say(math.factorial(n))} possible orders."
    else:
        thought = f"{n} factorial is {expr}."
        reply = f"{n}! = {math.factorial(n)}."
    return calc(d, d.text(n=n), thought, expr, math.factorial(n), reply)


# -------------------------------------------------------------------------------------------
# Percentages and big numbers
# -------------------------------------------------------------------------------------------


@family("calc.percent_of", "Calculate", weight=1.2)
def percent_of(d: Draw) -> Sample:
    p = d.rng.choice([5, 10, 12, 15, 18, 20, 25, 30, 35, 40, 45, 60, 75, 2.5, 7.5, 12.5, 8, 3])
    x = operand(d.rng, 0.4)
    is_money = d.rng.random() < 0.3
    wx = money(x) if is_money else w(d, x)
    expr = f"{plain(x)}*{plain(p)}/100"
    value = x * p / 100
    thought = separators_note(wx) + f"{plain(p)}% of {plain(x)} is {expr}."
    r = say(value, money_places=is_money)
    reply = f"{plain(p)}% of {wx} is {'$' if is_money else ''}{r}."
    return calc(d, d.text(p=plain(p), x=wx), thought, expr, value, reply)


@family("calc.percent_change", "Calculate", weight=0.9)
def percent_change(d: Draw) -> Sample:
    a = d.rng.choice([small(d.rng, 20, 999), d.rng.randint(1000, 90000)])
    factor = d.rng.choice(
        [0.5, 0.6, 0.75, 0.8, 0.9, 0.95, 1.05, 1.1, 1.2, 1.25, 1.5, 2, 1.08, 0.88]
    )
    b = round(a * factor) if d.rng.random() < 0.7 else round(a * d.rng.uniform(0.5, 1.9))
    if b == a:
        b = a + 1
    wa, wb = w(d, a), w(d, b)
    expr = f"({plain(b)}-{plain(a)})/{plain(a)}*100"
    value = (b - a) / a * 100
    thought = f"Percent change is (new-old)/old*100: {expr}."
    word = "an increase" if value > 0 else "a decrease"
    r = say(abs(value))
    reply = f"That is {word} of {r}%."
    return calc(
        d, d.text(a=wa, b=wb), thought, expr, value, reply, answers=accepted_answers(abs(value))
    )


@family("calc.percent_what", "Calculate", weight=0.8)
def percent_what(d: Draw) -> Sample:
    b = d.rng.choice([small(d.rng, 20, 200), d.rng.randint(200, 5000)])
    a = d.rng.randint(1, b - 1)
    expr = f"{a}/{b}*100"
    value = a / b * 100
    thought = f"The share in percent is part/whole*100: {expr}."
    reply = f"{a} out of {b} is {say(value)}%."
    return calc(d, d.text(a=a, b=b), thought, expr, value, reply)


@family("calc.big_words", "Calculate", weight=0.5)
def big_words(d: Draw) -> Sample:
    op = d.phrasing[1]
    m = d.rng.choice([1.2, 2.5, 3, 4.8, 7.5, 12, 1.75, 250, 6.4])
    scale = 1_000_000_000 if "billion" in d.phrasing[0] else 1_000_000
    k = d.rng.choice([4, 5, 8, 12, 16, 25, 40, 125, 250, 3])
    big = round(m * scale)
    name = "billion" if scale > 1_000_000 else "million"
    expr = f"{big}{op}{k}"
    value = big / k if op == "/" else big * k
    thought = f"{plain(m)} {name} is {big}, so {expr}."
    reply = f"That comes to {say(value)}."
    return calc(d, d.text(m=plain(m), k=k), thought, expr, value, reply)


# -------------------------------------------------------------------------------------------
# Word problems with units
# -------------------------------------------------------------------------------------------


@family("calc.distance", "Calculate", weight=1.2)
def distance(d: Draw) -> Sample:
    want = d.phrasing[1]
    unit, speed = d.pick([("km", "km/h"), ("miles", "mph")])
    v = small(d.rng, 4, 120) if d.rng.random() < 0.8 else round(d.rng.uniform(4, 90), 1)
    t = d.rng.choice([1.5, 2, 2.5, 3, 3.5, 4, 0.75, 5, 6, 1.25, 8])
    dist = round(v * t, 1) if d.rng.random() < 0.6 else small(d.rng, 40, 900)
    name = d.pick(d.pools.people)
    fill = {
        "v": plain(v),
        "t": plain(t),
        "dist": plain(dist),
        "unit": unit,
        "speed": speed,
        "name": name,
    }
    if want == "d":
        expr, value = f"{plain(v)}*{plain(t)}", v * t
        thought = f"Distance is speed times time: {expr}."
        reply = f"That is {say(value)} {unit}."
    elif want == "t":
        expr, value = f"{plain(dist)}/{plain(v)}", dist / v
        thought = f"Time is distance divided by speed: {expr}."
        reply = f"It takes {say(value)} hours."
    else:
        expr, value = f"{plain(dist)}/{plain(t)}", dist / t
        thought = f"Average speed is distance divided by time: {expr}."
        reply = f"The average speed is {say(value)} {speed}."
    return calc(d, d.text(**fill), thought, expr, value, reply, entities=[name])


@family("calc.shopping", "Calculate", weight=1.2)
def shopping(d: Draw) -> Sample:
    want = d.phrasing[1]
    item = d.pick(d.pools.items)
    name = d.pick(d.pools.people)
    price = round(d.rng.uniform(item.low, item.high), 2)
    if d.rng.random() < 0.3:
        price = float(round(price))
    # A cheap item rounded to whole dollars can cost "$0": that asks nothing, and divides by 0.
    if price == 0:
        raise ValueError("a price of $0")
    n = small(d.rng, 2, 24)
    total = round(price * n, 2)
    budget = float(small(d.rng, 20, 300))
    fill = {
        "name": name, "n": n, "one": item.one, "many": item.many,
        "price": money(price), "total": money(total), "budget": money(budget),
    }  # fmt: skip
    if want == "total":
        expr, value = f"{n}*{plain(price)}", n * price
        thought = f"The total is quantity times price: {expr}."
        reply = f"{n} {item.many} cost ${say(value, money_places=True)}."
    elif want == "each":
        expr, value = f"{plain(total)}/{n}", total / n
        thought = f"One costs the total divided by the quantity: {expr}."
        reply = f"Each one costs ${say(value, money_places=True)}."
    else:
        expr, value = f"{plain(budget)}/{plain(price)}", budget / price
        thought = f"Budget divided by price gives how many fit: {expr}."
        reply = (
            f"That is {say(value)}, so {name} can afford {math.floor(value + 1e-9)} {item.many}."
        )
        return calc(
            d, d.text(**fill), thought, expr, value, reply,
            answers=[str(math.floor(value + 1e-9))], entities=[name, item.one],
        )  # fmt: skip
    return calc(
        d, d.text(**fill), thought, expr, value, reply,
        answers=[*accepted_answers(value), say(value, money_places=True)], entities=[name, item.one],
    )  # fmt: skip


@family("calc.bill", "Calculate", weight=1.0)  # fmt: skip
def bill(d: Draw) -> Sample:
    tip = d.phrasing[1]
    total = round(d.rng.uniform(30, 480), 2)
    k = small(d.rng, 2, 9)
    p = d.rng.choice([10, 12, 15, 18, 20])
    if tip:
        expr, value = f"{plain(total)}*(1+{p}/100)/{k}", total * (1 + p / 100) / k
        thought = f"Add the {p}% tip, then split {k} ways: {expr}."
    else:
        expr, value = f"{plain(total)}/{k}", total / k
        thought = f"Each person pays the bill divided by {k}: {expr}."
    r = say(value, money_places=True)
    reply = f"Each person pays about ${r}."
    human = d.text(bill=money(total), k=k, p=p)
    return calc(d, human, thought, expr, value, reply, answers=[r, *accepted_answers(value)])


@family("calc.discount", "Calculate", weight=1.1)
def discount(d: Draw) -> Sample:
    want = d.phrasing[1]
    item = d.pick(d.pools.items)
    price = round(d.rng.uniform(max(item.low, 5), item.high * 4), 2)
    if d.rng.random() < 0.4:
        price = float(round(price))
    p = d.rng.choice([5, 10, 15, 20, 25, 30, 35, 40, 50, 12.5, 8, 19, 7])
    if want == "price":
        expr, value = f"{plain(price)}*(1-{plain(p)}/100)", price * (1 - p / 100)
        thought = f"{plain(p)}% off leaves {100 - p:g}% of the price: {expr}."
        reply = f"The sale price is ${say(value, money_places=True)}."
    elif want == "saving":
        expr, value = f"{plain(price)}*{plain(p)}/100", price * p / 100
        thought = f"The saving is {plain(p)}% of the price: {expr}."
        reply = f"You save ${say(value, money_places=True)}."
    else:
        expr, value = f"{plain(price)}*(1+{plain(p)}/100)", price * (1 + p / 100)
        thought = f"Adding {plain(p)}% tax multiplies by 1+{plain(p)}/100: {expr}."
        reply = f"With tax it costs ${say(value, money_places=True)}."
    r = say(value, money_places=True)
    human = d.text(one=item.one, price=money(price), p=plain(p))
    return calc(
        d,
        human,
        thought,
        expr,
        value,
        reply,
        answers=[r, *accepted_answers(value)],
        entities=[item.one],
    )


@family("calc.average", "Calculate", weight=1.0)
def average(d: Draw) -> Sample:
    n = d.rng.choice([3, 3, 4, 4, 5, 6])
    xs = [
        small(d.rng, 12, 99) if d.rng.random() < 0.8 else round(d.rng.uniform(3, 60), 1)
        for _ in range(n)
    ]
    listed = ", ".join(plain(x) for x in xs[:-1]) + " and " + plain(xs[-1])
    expr = f"({'+'.join(plain(x) for x in xs)})/{n}"
    value = sum(xs) / n
    thought = f"The average is the sum divided by {n}: {expr}."
    name = d.pick(d.pools.people)
    return calc(
        d,
        d.text(listed=listed, name=name),
        thought,
        expr,
        value,
        f"The average is {say(value)}.",
        entities=[name],
    )


# (from, to, factor text, expression pattern, function)
_CONVERSIONS: list[tuple[str, str, str, str, Callable[[float], float]]] = [
    ("miles", "kilometres", "One mile is 1.609344 km", "{x}*1.609344", lambda x: x * 1.609344),
    ("kilometres", "miles", "One mile is 1.609344 km", "{x}/1.609344", lambda x: x / 1.609344),
    ("kilograms", "pounds", "One kilogram is 2.20462 pounds", "{x}*2.20462", lambda x: x * 2.20462),
    ("pounds", "kilograms", "One pound is 0.45359237 kg", "{x}*0.45359237", lambda x: x * 0.45359237),
    ("inches", "centimetres", "One inch is 2.54 cm", "{x}*2.54", lambda x: x * 2.54),
    ("feet", "metres", "One foot is 0.3048 m", "{x}*0.3048", lambda x: x * 0.3048),
    ("metres", "feet", "One foot is 0.3048 m", "{x}/0.3048", lambda x: x / 0.3048),
    ("degrees Fahrenheit", "degrees Celsius", "Celsius is (F-32)*5/9", "({x}-32)*5/9", lambda x: (x - 32) * 5 / 9),
    ("degrees Celsius", "degrees Fahrenheit", "Fahrenheit is C*9/5+32", "{x}*9/5+32", lambda x: x * 9 / 5 + 32),
    ("litres", "US gallons", "One US gallon is 3.78541 litres", "{x}/3.78541", lambda x: x / 3.78541),
    ("US gallons", "litres", "One US gallon is 3.78541 litres", "{x}*3.78541", lambda x: x * 3.78541),
]  # fmt: skip


@family("calc.convert", "Calculate", weight=1.2)
def convert(d: Draw) -> Sample:
    src, dst, fact, pattern, fn = d.pick(_CONVERSIONS)
    x: float = small(d.rng, 1, 250) if d.rng.random() < 0.7 else round(d.rng.uniform(1, 120), 1)
    if "Fahrenheit" in src:
        x = small(d.rng, -10, 110)
    expr = pattern.format(x=plain(x))
    value = fn(x)
    thought = f"{fact}, so {expr}."
    reply = f"{plain(x)} {src} is about {say(value)} {dst}."
    return calc(d, d.text(x=plain(x), src=src, dst=dst), thought, expr, value, reply)


@family("calc.area", "Calculate", weight=1.2)  # fmt: skip
def area(d: Draw) -> Sample:
    shape = d.phrasing[1]
    a = small(d.rng, 2, 40) if d.rng.random() < 0.6 else round(d.rng.uniform(2, 30), 1)
    b = small(d.rng, 2, 30) if d.rng.random() < 0.6 else round(d.rng.uniform(2, 20), 1)
    c = small(d.rng, 5, 60)
    r = small(d.rng, 2, 50)
    price = round(d.rng.uniform(8, 60), 2)
    pa, pb = plain(a), plain(b)
    table: dict[str, tuple[str, str, float, str]] = {
        "rect": ("The area is length times width", f"{pa}*{pb}", a * b, "The area is {v} square metres."),
        "square": ("A square's area is side squared", f"{pa}^2", a**2, "The area is {v} square metres."),
        "circle": ("A circle's area is pi times radius squared", f"pi*{r}^2", math.pi * r**2, "The area is about {v} square centimetres."),
        "triangle": ("A triangle's area is base times height over 2", f"{pa}*{pb}/2", a * b / 2, "The area is {v} square centimetres."),
        "perimeter": ("The perimeter is twice length plus width", f"2*({pa}+{pb})", 2 * (a + b), "The perimeter is {v} metres."),
        "cost": ("The cost is the area times the price per square metre", f"{pa}*{pb}*{plain(price)}", a * b * price, "It costs about ${v}."),
        "circumference": ("The circumference is 2 times pi times the radius", f"2*pi*{r}", 2 * math.pi * r, "The circumference is about {v} cm."),
        "volume": ("The volume is length times width times height", f"{pa}*{pb}*{c}", a * b * c, "The volume is {v} cubic centimetres."),
    }  # fmt: skip
    why, expr, value, reply = table[shape]
    human = d.text(a=pa, b=pb, c=c, r=r, price=money(price))
    v = say(value, money_places=shape == "cost")
    return calc(
        d,
        human,
        f"{why}: {expr}.",
        expr,
        value,
        reply.format(v=v),
        answers=[v, *accepted_answers(value)],
    )


# (question slot unit, thought, expression pattern, function, reply unit)
_TIMES: list[tuple[str, str, str, Callable[[float], float], str]] = [
    ("How many seconds are in {x} days?", "A day has 24*60*60 seconds", "{x}*24*60*60", lambda x: x * 86400, "seconds"),
    ("How many minutes are in {x} hours?", "An hour has 60 minutes", "{x}*60", lambda x: x * 60, "minutes"),
    ("How many hours is {x} minutes?", "There are 60 minutes in an hour", "{x}/60", lambda x: x / 60, "hours"),
    ("How many hours are in {x} weeks?", "A week has 7*24 hours", "{x}*7*24", lambda x: x * 168, "hours"),
    ("How many seconds are in {x} hours?", "An hour has 60*60 seconds", "{x}*60*60", lambda x: x * 3600, "seconds"),
    ("How many days is {x} hours?", "A day has 24 hours", "{x}/24", lambda x: x / 24, "days"),
    ("How many minutes are in {x} days?", "A day has 24*60 minutes", "{x}*24*60", lambda x: x * 1440, "minutes"),
    ("About how many days old is someone who is {x} years old?", "A year has about 365 days", "{x}*365", lambda x: x * 365, "days"),
    ("How many weeks is {x} days?", "A week has 7 days", "{x}/7", lambda x: x / 7, "weeks"),
]  # fmt: skip
_TIMES_HELDOUT: list[tuple[str, str, str, Callable[[float], float], str]] = [
    ("{x} days is how many seconds?", "A day has 24*60*60 seconds", "{x}*24*60*60", lambda x: x * 86400, "seconds"),
    ("Convert {x} minutes to hours.", "There are 60 minutes in an hour", "{x}/60", lambda x: x / 60, "hours"),
    ("A flight lasts {x} hours. How many minutes is that?", "An hour has 60 minutes", "{x}*60", lambda x: x * 60, "minutes"),
]  # fmt: skip


@family("calc.time", "Calculate", train=_TIMES, heldout=_TIMES_HELDOUT, weight=1.2)
def time_units(d: Draw) -> Sample:
    _, why, pattern, fn, unit = d.phrasing
    x: float = small(d.rng, 2, 90)
    if d.rng.random() < 0.3:
        x = d.rng.choice([1.5, 2.5, 3.5, 7.5, 0.5, 4.25])
    if "minutes to hours" in d.phrasing[0] or "hours is {x} minutes" in d.phrasing[0]:
        x = small(d.rng, 20, 600)
    expr = pattern.format(x=plain(x))
    value = fn(x)
    return calc(
        d, d.text(x=plain(x)), f"{why}, so {expr}.", expr, value, f"That is {say(value)} {unit}."
    )


@family("calc.growth", "Calculate", weight=1.0)  # fmt: skip
def growth(d: Draw) -> Sample:
    kind = d.phrasing[1]
    p = d.rng.choice([1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12])
    n = small(d.rng, 2, 15)
    base: float = (
        d.rng.randint(1000, 250000) if kind != "money" else float(small(d.rng, 5, 200) * 100)
    )
    if kind == "decay":
        base = float(small(d.rng, 80, 600) * 100)
    sign = "-" if kind == "decay" else "+"
    expr = f"{plain(base)}*(1{sign}{plain(p)}/100)^{n}"
    value = base * (1 - p / 100) ** n if kind == "decay" else base * (1 + p / 100) ** n
    word = "shrinks" if kind == "decay" else "grows"
    thought = f"It {word} by {plain(p)}% each year for {n} years: {expr}."
    if "hour" in d.phrasing[0]:
        thought = thought.replace("each year", "each hour").replace("years", "hours")
    is_money = kind == "money" or "car" in d.phrasing[0]
    shown = money(base) if is_money else w(d, base)
    human = d.text(P=shown, M=shown, p=plain(p), n=n)
    if is_money:
        r = say(value, money_places=True)
        reply = f"After {n} years it will be about ${r}."
    else:
        r = str(round(value))
        reply = (
            f"After {n} {'hours' if 'hour' in d.phrasing[0] else 'years'} there will be about {r}."
        )
    return calc(
        d,
        human,
        separators_note(shown) + thought,
        expr,
        value,
        reply,
        answers=[r, *accepted_answers(value)],
    )


@family("calc.rate", "Calculate", weight=1.2)  # fmt: skip
def rate(d: Draw) -> Sample:
    kind = d.phrasing[1]
    name = d.pick(d.pools.people)
    rate_ = round(d.rng.uniform(9, 60), 2) if d.rng.random() < 0.6 else float(small(d.rng, 10, 80))
    h = d.rng.choice([12, 20, 25, 30, 35, 37.5, 38, 40, 42, 45, 7.5, 16])
    ppm, m = small(d.rng, 5, 80), small(d.rng, 3, 120)
    lit = d.rng.choice([4.5, 5.2, 5.8, 6.5, 7, 7.9, 8.4, 9.5, 11])
    km = small(d.rng, 40, 1500)
    lpm, vol = d.rng.choice([6, 8, 10, 12, 15, 20, 25]), small(d.rng, 50, 2000)
    pages = small(d.rng, 120, 900)
    fill = {"name": name, "rate": money(rate_), "h": plain(h), "ppm": ppm, "m": m, "l": plain(lit),
            "km": km, "lpm": lpm, "V": vol, "pages": pages}  # fmt: skip
    answers: list[str] = []
    if kind == "pay":
        expr, value = f"{plain(rate_)}*{plain(h)}", rate_ * h
        thought = f"Pay is the hourly rate times the hours: {expr}."
        r = say(value, money_places=True)
        reply, answers = f"That is ${r}.", [r]
    elif kind == "pages":
        expr, value = (
            f"{ppm}*{m if 'minute' in d.phrasing[0] else plain(h)}",
            ppm * (m if "minute" in d.phrasing[0] else h),
        )
        thought = f"The count is the rate times the time: {expr}."
        reply = f"That makes {say(value)}."
    elif kind == "fuel":
        expr, value = f"{km}*{plain(lit)}/100", km * lit / 100
        thought = f"Fuel is the distance times the litres per 100 km, over 100: {expr}."
        reply = f"It needs about {say(value)} litres."
    elif kind == "fill":
        expr, value = f"{vol}/{lpm}", vol / lpm
        thought = f"Time is the volume divided by the flow: {expr}."
        reply = f"It takes about {say(value)} minutes."
    else:
        expr, value = f"{pages}/{ppm}", pages / ppm
        thought = f"Time is the pages divided by the reading rate: {expr}."
        reply = f"It takes about {say(value)} hours."
    return calc(
        d,
        d.text(**fill),
        thought,
        expr,
        value,
        reply,
        answers=[*answers, *accepted_answers(value)],
        entities=[name],
    )


# "How many people..." and "How high..." can be calculations too: the numbers are all in the
# question. These contrast with the Search questions that use the same words about a named thing.
@family("calc.groups", "Calculate", weight=1.0)
def groups(d: Draw) -> Sample:
    op = d.phrasing[1]
    n, k = small(d.rng, 3, 60), small(d.rng, 4, 60)
    total = n * k
    value: float
    if op == "*":
        expr, value = f"{n}*{k}", n * k
        thought = f"The question gives every number: {n} groups of {k} is {expr}."
    elif op == "dozen":
        expr, value = f"{n}*12", n * 12
        thought = f"A dozen is 12, so {expr}."
    else:
        expr, value = f"{total}/{k}", total / k
        thought = f"The question gives every number: {total} divided into groups of {k} is {expr}."
    reply = f"That makes {say(value)}."
    return calc(d, d.text(n=n, k=k, total=total), thought, expr, value, reply)


@family("calc.pythagoras", "Calculate", weight=0.8)  # fmt: skip
def pythagoras(d: Draw) -> Sample:
    kind = d.phrasing[1]
    a, b = small(d.rng, 2, 30), small(d.rng, 2, 30)
    if kind == "leg":
        c = a + small(d.rng, 1, 25)
        expr, value = f"sqrt({c}^2-{a}^2)", math.sqrt(c * c - a * a)
        thought = f"By Pythagoras the height is sqrt({c}^2-{a}^2)."
        reply = f"It reaches about {say(value)} m high."
    else:
        c = 0
        expr, value = f"sqrt({a}^2+{b}^2)", math.sqrt(a * a + b * b)
        thought = f"By Pythagoras the long side is sqrt({a}^2+{b}^2)."
        reply = f"It is about {say(value)} long."
    return calc(d, d.text(a=a, b=b, c=c), thought, expr, value, reply)


FAMILIES: list[Family] = [
    mul,
    add,
    sub,
    div,
    expression,
    steps,
    power,
    root,
    factorial,
    percent_of,
    percent_change,
    percent_what,
    big_words,
    distance,
    shopping,
    bill,
    discount,
    average,
    convert,
    area,
    time_units,
    growth,
    rate,
    groups,
    pythagoras,
]
