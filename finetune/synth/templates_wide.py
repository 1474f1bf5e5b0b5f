# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""More train phrasings of the Calculate and Solve skills, for the ``calc_wide`` and
``solve_wide`` kinds of the mix.

A small model that has seen a skill in seven wordings maps the eighth by its surface: "paid
$113.20 for 8 cases; what did one cost?" became ``8*113.2`` because "paid ... for" looked like
the totals it had multiplied. More wordings of the same skill, in new sentence frames and
situations, push it towards the meaning. Each family here reuses a base family's ``make`` (so
the expression, the value check and the reply are the base family's) with new train
phrasings; its held-out phrasings are the base family's, so the held-out split and the
evaluation cases are unchanged, and the split test still checks the two pools are disjoint.

These phrasings were written after reading the held-out misses of the shipped adapter, so each
was checked by hand against every held-out phrasing: none reuses a held-out phrasing's frame or
situation (a first draft did, for example "Share {a} equally between {b}: how much each?" beside
the held-out "{a} shared by {b} is how much each?"; an adapter trained on it scored 0.915 on
argument accuracy, a figure that measured recall of those frames, so it was dropped). What
stays is the same skills in train-like or new frames.

These are separate kinds with default share 0, so every seed drawn before they existed draws
exactly the data it drew before (as for ``chat``). A few Solve skills had no train wording at
all (a number plus a fraction of itself; a total split so that one part is k times the other);
``solve.word.wide`` adds them in situations of its own.

The last section is the other side of the boundary, for the ``chat_wide`` and ``contrast``
kinds: questions about what an operation means or how to work something out, asked without
numbers, so they want an explanation and no tool. ``contrast`` pairs each with a turn from the
family that computes the same thing on numbers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

from finetune.synth import templates_calc as calc
from finetune.synth import templates_chat as chat
from finetune.synth import templates_solve as solve
from finetune.synth.base import Draw, Family, Sample, Split, SynthError, family
from finetune.synth.entities import Pools
from finetune.synth.templates_solve import Problem, Word, number_problem


def wider(base: Family, train: Sequence[Any], round_: str = "wide") -> Family:
    """``base`` with new train phrasings, named ``<base>.<round_>``; same make, held-out and
    weight (``templates_more`` names its round ``more``)."""
    return replace(base, name=f"{base.name}.{round_}", train=tuple(train))


# -------------------------------------------------------------------------------------------
# Calculate
# -------------------------------------------------------------------------------------------

mul = wider(calc.mul, [
    "Multiply {a} and {b} together.",
    "{a} multiplied by {b} equals?",
    "Times {a} by {b}.",
    "What does {a} times {b} make?",
    "Give me {a} × {b}.",
])  # fmt: skip
add = wider(calc.add, [
    "What's the total of {listed}?",
    "Add together {listed}.",
    "{listed}: what's the sum?",
    "Combine {listed}; what total do I get?",
])  # fmt: skip
sub = wider(calc.sub, [
    ("Remove {b} from {a}. What's left?", True),
    ("Subtract {b} from {a}, please.", True),
    ("{a} take away {b}?", False),
    ("How much bigger is {a} than {b}?", False),
    ("Start with {a} and subtract {b}.", False),
])  # fmt: skip
div = wider(calc.div, [
    "How much does each get if {a} is divided among {b}?",
    "{a} divided evenly by {b} gives what?",
])  # fmt: skip
steps = wider(calc.steps, [
    ("Subtract {b} from {a}, then multiply the result by {c}.", "({a}-{b})*{c}", lambda a, b, c: (a - b) * c),
    ("Divide {a} by {b} and then add {c}.", "{a}/{b}+{c}", lambda a, b, c: a / b + c),
    ("What is {a} divided by {b}, plus {c}?", "{a}/{b}+{c}", lambda a, b, c: a / b + c),
    ("Multiply the difference of {a} and {b} by {c}.", "({a}-{b})*{c}", lambda a, b, c: (a - b) * c),
    ("Increase {a} by {b}, then divide by {c}.", "({a}+{b})/{c}", lambda a, b, c: (a + b) / c),
])  # fmt: skip
power = wider(calc.power, [
    ("{b} to the {eth} power is what?", "any"),
    ("Compute {b} to the power {e}.", "any"),
    ("What do you get raising {b} to the power of {e}?", "any"),
    ("Square {b}.", 2),
])  # fmt: skip
root = wider(calc.root, [
    ("Give me the square root of {n}.", 2),
    ("sqrt({n}) = ?", 2),
    ("What number squared makes {n}?", 2),
    ("Compute the square root of {n}.", 2),
    ("What number cubed makes {n}?", 3),
    ("Find the cube root of {n}.", 3),
])  # fmt: skip
factorial = wider(calc.factorial, [
    ("{n}! equals what?", False),
    ("In how many orders can {n} guests be seated in a row?", True),
])  # fmt: skip
percent_of = wider(calc.percent_of, [
    "Work out {p}% of {x}.",
    "{p} percent of {x}, please.",
    "How much is {p} percent of {x}?",
    "What do I get if I take {p}% of {x}?",
])  # fmt: skip
percent_change = wider(calc.percent_change, [
    "It was {a} and now it is {b}. By what percent did it change?",
    "The count went from {a} to {b}. By how many percent did it change?",
    "Give the percent change when {a} becomes {b}.",
])  # fmt: skip
percent_what = wider(calc.percent_what, [
    "{a} is what percent of {b}?",
])  # fmt: skip
big_words = wider(calc.big_words, [
    ("Divide {m} million by {k}.", "/"),
    ("What is {k} times {m} million?", "*"),
])  # fmt: skip
distance = wider(calc.distance, [
    ("{name} ran {dist} {unit} in {t} hours. How fast was that on average?", "v"),
    ("What speed covers {dist} {unit} in {t} hours?", "v"),
    ("Driving at {v} {speed}, how long does {dist} {unit} take?", "t"),
    ("Going {v} {speed} for {t} hours, how far do I get?", "d"),
    ("{name} rides for {t} hours at {v} {speed}. What distance is that?", "d"),
])  # fmt: skip
shopping = wider(calc.shopping, [
    ("The receipt shows {total} for {n} {many}. How much is one {one}?", "each"),
    ("{n} {many} came to {total}. What's the price per {one}?", "each"),
    ("{n} {many} at {price} each: what's the bill?", "total"),
    ("What will {name} pay for {n} {many} costing {price} each?", "total"),
    ("With {budget}, how many {many} costing {price} can I buy?", "count"),
])  # fmt: skip
bill = wider(calc.bill, [
    ("Our {bill} dinner plus a {p}% tip is shared by {k} people. What does each pay?", True),
])  # fmt: skip
discount = wider(calc.discount, [
    ("What's the price of a {price} {one} after a {p}% discount?", "price"),
    ("A {one} usually costs {price}; it is {p}% off today. What do I pay?", "price"),
    ("How much do I save on a {price} {one} at {p}% off?", "saving"),
])  # fmt: skip
average = wider(calc.average, [
    "What's the mean of {listed}?",
    "Work out the average of {listed}.",
    "{name} spent {listed} dollars on recent trips. What's the average per trip?",
])  # fmt: skip
convert = wider(calc.convert, [
    "Express {x} {src} in {dst}.",
    "What's {x} {src} in {dst}?",
])  # fmt: skip
area = wider(calc.area, [
    ("Find the area of a circle whose radius is {r} cm.", "circle"),
    ("What area does a {a} cm base, {b} cm high triangle have?", "triangle"),
])  # fmt: skip
time_units = wider(calc.time_units, [
    ("How many seconds are in {x} minutes?", "A minute has 60 seconds", "{x}*60", lambda x: x * 60, "seconds"),
    ("How many days are in {x} weeks?", "A week has 7 days", "{x}*7", lambda x: x * 7, "days"),
])  # fmt: skip
growth = wider(calc.growth, [
    ("A city of {P} grows {p}% each year. What is its population in {n} years?", "grow"),
])  # fmt: skip
rate = wider(calc.rate, [
    ("My car burns {l} litres every 100 km. How much fuel for a {km} km drive?", "fuel"),
    ("A hose gives {lpm} litres a minute. How long to fill {V} litres?", "fill"),
])  # fmt: skip
groups = wider(calc.groups, [
    ("How many eggs make {n} dozen?", "dozen"),
])  # fmt: skip
pythagoras = wider(calc.pythagoras, [
    ("A rectangle is {a} cm by {b} cm. How long is a diagonal?", "hyp"),
    ("A {c} m rope runs from a pole top to a peg {a} m from its foot. How tall is the pole?", "leg"),
])  # fmt: skip

CALC: list[Family] = [
    mul, add, sub, div, steps, power, root, factorial, percent_of, percent_change,
    percent_what, big_words, distance, shopping, bill, discount, average, convert, area,
    time_units, growth, rate, groups, pythagoras,
]  # fmt: skip

# -------------------------------------------------------------------------------------------
# Solve
# -------------------------------------------------------------------------------------------

linear = wider(solve.linear, [
    "If {eq}, then {v} = ?",
    "Find the value of {v}: {eq}",
    "What must {v} be for {eq} to hold?",
])  # fmt: skip
system2 = wider(solve.system2, [
    "Find the values of {v1} and {v2} that satisfy {sys}",
    "Here are two equations: {sys}. Solve them.",
    "{sys} — what are {v1} and {v2}?",
])  # fmt: skip
system3 = wider(solve.system3, [
    "Find the values of x, y and z that satisfy {sys}",
])  # fmt: skip

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

# -------------------------------------------------------------------------------------------
# No tool: questions about an idea, asked without numbers
# -------------------------------------------------------------------------------------------
# The fourth CPU stage, trained on the two kinds above, learned that "square root" or "ratio"
# in a question means Calculate, and answered "What is a square root?" with
# ``Calculate("sqrt(x)")``. The other side of that boundary: the same operation words in a
# question with no numbers to work on ask for an explanation. The terms and methods here are
# train-only, and none is a held-out concept (square root, factorial, ratio, denominator,
# polygon) or a near neighbour of one (cube root, numerator, proportion); the frames avoid the
# held-out "Define {term} for me, please." and "Quick question: what's {term}?".

term = wider(chat.term, [
    "In maths, what is {term}?",
    "What's meant by {term}?",
    "Explain the idea of {term}.",
    "I keep hearing about {term}. What is it?",
    "Could you tell me what {term} is?",
    "What is {term}, in simple terms?",
])  # fmt: skip

# (term, explanation, the base family that computes with it, or None)
_OPERATIONS: dict[Split, tuple[tuple[str, str, str | None], ...]] = {
    "train": (
        ("a quotient", "The quotient is the result of a division: in 20 ÷ 4 = 5, the quotient is 5.", "calc.div"),
        ("a product", "In maths the product is the result of multiplying numbers: the product of 3 and 4 is 12.", "calc.mul"),
        ("a remainder", "The remainder is what is left over when a whole number does not divide another exactly: 17 ÷ 5 is 3 with remainder 2.", "calc.div"),
        ("a median", "The median is the middle value of a list once it is sorted; with an even count it is the mean of the two middle values.", "calc.average"),
        ("a percentage", "A percentage is a number out of 100: 40% means 40 out of every 100.", "calc.percent_of"),
        ("a power", "A power is a number multiplied by itself a given number of times: 3 to the power 4 is 3 × 3 × 3 × 3 = 81.", "calc.power"),
        ("a prime factor", "A prime factor is a prime number that divides a number exactly: the prime factors of 12 are 2 and 3.", None),
        ("an absolute value", "The absolute value of a number is its distance from zero, without a sign: the absolute value of -7 is 7.", None),
        ("a reciprocal", "The reciprocal of a number is 1 divided by it: the reciprocal of 4 is 1/4, and a number times its reciprocal is 1.", "calc.div"),
        ("rounding", "Rounding replaces a number with a simpler one close to it: 3.87 rounded to one decimal place is 3.9.", None),
        ("a coefficient", "A coefficient is the number in front of a variable: in 5x + 2, the coefficient of x is 5.", "solve.linear"),
        ("an inequality", "An inequality compares two values that need not be equal, with signs such as < and >: x > 3 means x is more than 3.", None),
        ("a linear equation", "A linear equation has no powers of its unknowns above 1, like 3x + 2 = 11. Its graph is a straight line.", "solve.linear"),
        ("the mode", "The mode is the value that appears most often in a list: in 2, 3, 3, 5 the mode is 3.", None),
        ("a sum", "A sum is the result of adding numbers together: the sum of 4, 5 and 6 is 15.", "calc.add"),
        ("speed", "Speed is how far something goes in a given time: distance divided by time, such as kilometres per hour.", "calc.distance"),
    ),
    # For completeness, as in templates_chat: the evaluation set does not draw on these.
    "heldout": (
        ("a difference", "The difference is the result of subtracting one number from another: the difference between 9 and 4 is 5.", "calc.sub"),
        ("an estimate", "An estimate is a rough value worked out quickly, such as 300 for 6 × 49, to check that an exact answer is sensible.", None),
    ),
}  # fmt: skip


@family(
    "chat.operation",
    None,
    train=[
        "What is {term}?",
        "What does {term} mean in maths?",
        "My teacher mentioned {term}. What is that?",
        "Remind me what {term} is.",
        "Is there an easy way to understand {term}?",
    ],
    heldout=["Sorry, what's {term} again?"],
    weight=1.5,
)
def operation(d: Draw) -> Sample:
    name, explanation, related = d.pick(_OPERATIONS[d.pools.split])
    thought = (
        f"This asks what {name} means, with no numbers to work on; I can explain it without a tool."
    )
    # info["related"]: the family the contrast kind pairs it with
    return chat.chat(d, d.text(term=name), thought, explanation, (name,), {"related": related})


# (what to work out, the method, the base family that works it out, or None)
_METHODS: dict[Split, tuple[tuple[str, str, str | None], ...]] = {
    "train": (
        ("the area of a circle", "Multiply pi (about 3.14159) by the radius times itself: area = π × r × r.", "calc.area"),
        ("a percentage increase", "Subtract the old value from the new one, divide by the old value, then multiply by 100.", "calc.percent_change"),
        ("the average of some numbers", "Add the numbers up and divide the total by how many numbers there are.", "calc.average"),
        ("the perimeter of a rectangle", "Add the length and the width, then double it: 2 × (length + width).", None),
        ("compound interest", "Multiply the starting amount by (1 + the rate) once for every period: amount × (1 + r)^n.", "calc.growth"),
        ("a tip", "Multiply the bill by the tip percentage divided by 100, then add that to the bill.", "calc.bill"),
        ("an average speed", "Divide the total distance by the total time taken.", "calc.distance"),
        ("a discounted price", "Multiply the price by the discount percentage divided by 100 and subtract that from the price.", "calc.discount"),
        ("the volume of a box", "Multiply its length, width and height together.", None),
        ("miles from kilometres", "Divide the kilometres by about 1.609, since one mile is about 1.609 km.", "calc.convert"),
    ),
    "heldout": (
        ("the area of a triangle", "Multiply the base by the height and halve it.", "calc.area"),
    ),
}  # fmt: skip


@family(
    "chat.method",
    None,
    train=[
        "How do you work out {how}?",
        "What's the method for finding {how}?",
        "How would I calculate {how} by hand?",
        "Can you teach me how to find {how}?",
        "What's the formula for {how}?",
    ],
    heldout=["Walk me through finding {how}."],
    weight=1.0,
)
def method(d: Draw) -> Sample:
    how, explanation, related = d.pick(_METHODS[d.pools.split])
    thought = f"This asks how to work out {how} in general, and gives no numbers; I can explain the method without a tool."
    return chat.chat(d, d.text(how=how), thought, explanation, (), {"related": related})


CHAT: list[Family] = [term, operation, method]
# The questions the contrast kind pairs with a worked one; ``info["related"]`` names its family.
EXPLAIN: list[Family] = [operation, method]


def worked(related: str | None) -> list[Family]:
    """The Calculate or Solve families, base and wide, that work out what ``related`` names
    (any Calculate family when it names none)."""
    if related is None:
        return CALC_WIDER
    found = [f for f in CALC_WIDER + SOLVE_WIDER if f.name in (related, f"{related}.wide")]
    if not found:
        raise SynthError(f"no Calculate or Solve family is named {related!r}")
    return found


# What the chat_wide kind draws from: the wider chat families and these, equally weighted.
CHAT_WIDER: list[Family] = [*chat.WIDER_FAMILIES, *CHAT]
