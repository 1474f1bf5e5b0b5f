# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""Questions about what an operation means or how a method works, asked without numbers: the
``chat_wide`` and ``contrast`` kinds of the mix.

They want an explanation and no tool: the other side of the boundary whose tool side is the
same operation words with numbers to work on. ``contrast`` pairs each with a turn from the
family that computes the same thing (``worked``). The terms and methods are train-only, and
the frames avoid the held-out ones (docs/synthetic-data.md).
"""

from __future__ import annotations

from finetune.synth import templates_chat as chat
from finetune.synth.base import Draw, Family, Sample, Split, SynthError, family
from finetune.synth.templates_paraphrase import CALC_WIDER, SOLVE_WIDER, wider

term = wider(chat.term)  # fmt: skip

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


@family("chat.operation", None, weight=1.5)
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


@family("chat.method", None, weight=1.0)
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
