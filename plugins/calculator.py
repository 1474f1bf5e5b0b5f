"""The Calculate plugin: one arithmetic expression in, one number out, as MOSS's calculator did.

Scope: the arithmetic people and models write, read safely by ``plugins._safe_math`` (no
``eval``): ``4,817*63``, ``2^17``, ``15% of 2460``, ``6.6%-6.7%``, ``sqrt(7056)``, ``7!``,
``ceil(500/375)``, ``log(100, 10)``, ``sin(pi/5)``, ``2(3+4)``, ``12 × 3 ÷ 4``, ``−5``,
``pow(12, 1/3)``, and named values before the expression
(``s=(3+4+5)/2;sqrt(s*(s-3)*(s-4)*(s-5))``), both as MOSS's calculator took them.

Output: a ``str`` with Python's spelling of the value, which is what MOSS recorded in 97% of
its numeric Calculate results: integers as ``'56'``, floats as ``repr`` gives them
(``'0.5714285714285714'``, ``'500.0'``, ``'220.00000000000003'``). Integer arithmetic stays
exact; ``/`` and the functions of ``math`` give floats; angles are radians.

Failure: any exception (the model sees ``No result.``): unknown names or characters, equations
(use Solve), complex or undefined results, and anything too large to compute quickly.

Non-goals: unknowns (a name must be given its value first), units, complex numbers, symbolic
answers (``sqrt(2)`` is ``1.414...``).
"""

from __future__ import annotations

from plugins._math_grammar import calculate_grammar
from plugins._safe_math import (
    CONSTANTS,
    FUNCTIONS,
    Builder,
    MathInputError,
    Token,
    parse,
    python_number,
    to_python,
    tokenize,
)
from plugins.registry import plugin


@plugin(
    "Calculate",
    label="Calculator",
    api="Calculate(expression)",
    grounded=True,
    grammar=calculate_grammar(),
)
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression.

    The first paragraph above is what the model is told; this one is for programmers.

    >>> calculate("4,817*63"), calculate("500/4"), calculate("15% of 2460")
    ('303471', '125.0', '369.0')
    """
    return format_number(evaluate(expression))


def evaluate(expression: str) -> int | float:
    """The value of ``expression`` as a Python ``int`` or ``float``.

    Named intermediate values may come first, each ``name = expression;``, as MOSS's
    calculator took them (Heron's formula for the area of a triangle, say).

    >>> evaluate("2^17"), evaluate("sqrt(7056)"), evaluate("7!"), evaluate("pow(2, 10)")
    (131072, 84.0, 5040, 1024)
    >>> evaluate("s = (3+4+5)/2; sqrt(s*(s-3)*(s-4)*(s-5))")
    6.0
    """
    *assignments, last = _statements(tokenize(expression), expression)
    names: dict[str, int | float] = {}
    for tokens in assignments:
        name, value = tokens[0].text, tokens[2:]
        names[name] = _value(_substitute(value, names))
    return _value(_substitute(last, names))


def _statements(tokens: list[Token], expression: str) -> list[list[Token]]:
    """The ``;``-separated statements: assignments ``name = ...``, then one expression."""
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.text == ";":
            statements.append([])
        else:
            statements[-1].append(token)
    *assignments, last = statements
    named = [_assigned(s) for s in assignments]
    if not all(named) or any(t.text in ("=", "==") for t in last) or (assignments and not last):
        raise MathInputError(
            f"{expression!r} is an equation or several statements; Calculate takes one "
            "expression such as 2*(3+4), optionally after named values (s = 6; s*(s-3)). "
            "Use Solve for equations."
        )
    return statements


def _assigned(tokens: list[Token]) -> bool:
    """Whether a statement is ``name = expression`` (a plain name, not a function or pi)."""
    return (
        len(tokens) > 2
        and tokens[0].kind == "name"
        and tokens[0].text not in FUNCTIONS
        and tokens[0].text not in CONSTANTS
        and tokens[1].text == "="
        and not any(t.text in ("=", "==") for t in tokens[2:])
    )


def _substitute(tokens: list[Token], names: dict[str, int | float]) -> list[Token]:
    """The tokens with each named value written in as a bracketed number."""
    out: list[Token] = []
    for t in tokens:
        if t.kind == "name" and t.text in names:
            value = names[t.text]
            text = str(value) if isinstance(value, int) else repr(value)
            out += [Token("op", "(", t.start, t.start), Token("num", text, t.start, t.end)]
            out.append(Token("op", ")", t.end, t.end))
        else:
            out.append(t)
    return out


def _value(tokens: list[Token]) -> int | float:
    tree = parse(to_python(tokens), unknowns=False)
    return python_number(Builder(numeric=True).build(tree))


def format_number(value: int | float) -> str:
    """Spell a number as Python and MOSS do: ``56``, ``0.5``, ``125.0``.

    >>> format_number(56), format_number(125.0), format_number(4 / 7)
    ('56', '125.0', '0.5714285714285714')
    """
    return str(value) if isinstance(value, int) else repr(value)
