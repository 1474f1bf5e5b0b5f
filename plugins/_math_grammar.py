"""Lark grammars for the arguments of Calculate and Solve: a part of what ``_safe_math`` reads.

The grammars are deliberately narrower than the parser. They admit the forms a model should
write: numbers with an optional decimal part, ``+ - * / // ^ **``, brackets, unary minus,
``n%`` after a number, ``n!`` after a whole one or a bracket (``(7-4)!``), the functions of
``_safe_math.FUNCTIONS`` with their arities, ``pi`` and ``e``. So every line they admit is
one the calculator parses: a property test in ``tests/test_grammar.py`` walks the grammar at
random and checks exactly that.
Solve also takes a coefficient before an unknown or a bracket (``2x``, ``4(x-8)``).

Left out on purpose: thousands commas (``4,817``: the training data never writes them, and
inside a function's brackets the parser reads the comma as a separator), implicit products in
Calculate (``2(3+4)``), ``15% of 240``, ``×``/``÷``, and named values before the expression
(``s=...;sqrt(s)``). The parser still takes them from a person; a model is held to one form.
"""

from __future__ import annotations

from plugins._safe_math import CONSTANTS, FUNCTIONS

# Digits without thousands commas: inside a function's brackets the parser reads "pow(2,500)"
# as two arguments, so a comma there is never a separator; no leading zeros ("007").
_NUMBER = r"/(0|[1-9][0-9]{0,14})(\.[0-9]{1,12})?/"


# The functions an equation may apply to an unknown: the others (round, floor, factorial, max
# ...) need a number, and the solver refuses them on a name.
_SOLVE_FUNCTIONS = ("abs", "cos", "exp", "ln", "log", "sin", "sqrt", "tan")


def _calls(names: list[str]) -> str:
    # One alternative per arity pattern; a function of several arguments separates them with
    # ", " (a bare comma before three digits would read as a thousands separator).
    out = []
    for name in names:
        f = FUNCTIONS[name]
        args = ["expr"] + ['", " expr'] * (f.min_args - 1)
        if f.max_args > 100:
            args.append('(", " expr)*')
        else:
            args += ['(", " expr)?'] * (f.max_args - f.min_args)
        out.append(f'"{name}(" {" ".join(args)} ")"')
    return "\n    | ".join(out)


def _expression(unknown: str | None) -> str:
    """The rules of an arithmetic expression; ``unknown``: a terminal for names, if any."""
    functions = sorted(FUNCTIONS) if unknown is None else list(_SOLVE_FUNCTIONS)
    # Equations keep the products people write with a coefficient: 2x, 4(x-8).
    names = (
        f'\n    | {unknown}\n    | NUMBER {unknown}\n    | NUMBER "(" expr ")"' if unknown else ""
    )
    constants = " | ".join(f'"{c}"' for c in sorted(CONSTANTS))
    return f"""
expr: term (ADD term)*
term: factor (MUL factor)*
factor: "-" factor | power
power: postfix (POW factor)?
postfix: NUMBER "%" | INT "!" | "(" expr ")" "!" | atom
atom: NUMBER
    | "(" expr ")"
    | {constants}
    | call{names}
call: {_calls(functions)}
ADD: / ?[+\\-] ?/
MUL: / ?(\\*|\\/\\/|\\/) ?/
POW: "^" | "**"
NUMBER: {_NUMBER}
INT: /0|[1-9][0-9]{{0,3}}/
"""


def calculate_grammar() -> str:
    """Calculate's argument: one arithmetic expression."""
    return "start: expr\n" + _expression(None)


def solve_grammar() -> str:
    """Solve's argument: one or more equations over single-letter unknowns (``2x+4y=10``),
    separated by ``;`` (and an optional space), with an optional ``;`` at the end."""
    return (
        # A trailing ";" is harmless to the solver, and the adapter writes one after a system.
        'start: equation (SEP equation)* ";"?\n'
        "equation: expr EQ expr\n"
        "EQ: / ?= ?/\n"
        "SEP: /; ?/\n"
        # Single letters but e (Euler's number); the lexer would take "pi" or a function name
        # whole, so a name is never a prefix of one.
        "UNKNOWN: /[a-df-z]/\n" + _expression("UNKNOWN")
    )
