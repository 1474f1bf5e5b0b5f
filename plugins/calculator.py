"""The Calculate plugin: one arithmetic expression in, one number out, as MOSS's calculator did.

Scope: the arithmetic people and models write, read safely by ``plugins._safe_math`` (no
``eval``): ``4,817*63``, ``2^17``, ``15% of 2460``, ``6.6%-6.7%``, ``sqrt(7056)``, ``7!``,
``ceil(500/375)``, ``log(100, 10)``, ``sin(pi/5)``, ``2(3+4)``, ``12 × 3 ÷ 4``, ``−5``.

Output: a ``str`` with Python's spelling of the value, which is what MOSS recorded in 97% of
its numeric Calculate results: integers as ``'56'``, floats as ``repr`` gives them
(``'0.5714285714285714'``, ``'500.0'``, ``'220.00000000000003'``). Integer arithmetic stays
exact; ``/`` and the functions of ``math`` give floats; angles are radians.

Failure: any exception (the model sees ``No result.``): unknown names or characters, equations
(use Solve), complex or undefined results, and anything too large to compute quickly.

Non-goals: variables, units, complex numbers, symbolic answers (``sqrt(2)`` is ``1.414...``).
"""

from __future__ import annotations

from plugins._safe_math import (
    Builder,
    MathInputError,
    parse,
    python_number,
    to_python,
    tokenize,
)
from plugins.registry import plugin


@plugin("Calculate", label="Calculator", api="Calculate(expression)", grounded=True)
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression.

    The first paragraph above is what the model is told; this one is for programmers.

    >>> calculate("4,817*63"), calculate("500/4"), calculate("15% of 2460")
    ('303471', '125.0', '369.0')
    """
    return format_number(evaluate(expression))


def evaluate(expression: str) -> int | float:
    """The value of ``expression`` as a Python ``int`` or ``float``.

    >>> evaluate("2^17"), evaluate("sqrt(7056)"), evaluate("7!")
    (131072, 84.0, 5040)
    """
    tokens = tokenize(expression)
    if any(t.text in ("=", "==", ";") for t in tokens):
        raise MathInputError(
            f"{expression!r} is an equation or several statements; Calculate takes one "
            "expression such as 2*(3+4). Use Solve for equations."
        )
    tree = parse(to_python(tokens), unknowns=False)
    return python_number(Builder(numeric=True).build(tree))


def format_number(value: int | float) -> str:
    """Spell a number as Python and MOSS do: ``56``, ``0.5``, ``125.0``.

    >>> format_number(56), format_number(125.0), format_number(4 / 7)
    ('56', '125.0', '0.5714285714285714')
    """
    return str(value) if isinstance(value, int) else repr(value)
