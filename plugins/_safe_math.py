"""Safe reading of arithmetic text into sympy values, shared by the Calculate and Solve plugins.

Scope: turn what people and models write (``4,817*63``, ``2^17``, ``15% of 2460``, ``7!``,
``2(3+4)``, ``3y - 7 = 20``, ``×``, ``÷``, ``−``) into sympy numbers or expressions without ever
running the text as Python. ``sympify`` and ``parse_expr`` call ``eval`` internally, so neither is
used; instead:

1. ``tokenize`` reads the text with a small lexer: numbers, ASCII names and a few operators.
   Anything else (quotes, dots outside numbers, ``:``, ``<``, letters of other scripts) fails.
2. ``to_python`` writes the tokens back as Python syntax: ``^`` -> ``**``, ``15%`` ->
   ``(15/100)``, ``7!`` -> ``factorial(7)``, ``2(3+4)`` -> ``2*(3+4)``.
3. ``parse`` runs ``ast.parse`` and walks the tree against an allowlist: numbers, ``+ - * / // %
   **``, unary ``+ -``, calls by plain name of the functions in ``FUNCTIONS``, the constants ``pi``
   and ``e``, and (for Solve only) plain unknown names. No attributes, subscripts, strings,
   keywords, lambdas, comparisons.
4. ``Builder`` turns the checked tree into sympy, node by node, bounding every costly step
   (integer sizes, exponents, factorials, float overflow) *before* taking it.

Commas. Inside the brackets of a function that takes several arguments (``max``, ``min``,
``log``, ``round``, ``atan2``) a comma separates arguments: ``max(100,200)`` is 200. Anywhere
else a comma written with no space between 1-3 digits and exactly three digits is a thousands
separator: ``4,817*63``, ``sqrt(7,056)``, ``x = 1,250,000``. Other commas separate equations
(Solve) or are an error (Calculate).

Number model. Calculate follows the numbers of Python, which is what MOSS's recorded results
show (``500/4`` -> ``125.0``, ``8+4`` -> ``12``, ``400*(1-0.45)`` -> ``220.00000000000003``):
integers stay exact, ``/`` and the functions of ``math`` give 53-bit floats, computed by sympy
at 53 bits so every step rounds as IEEE doubles do. Solve keeps sympy's exact numbers
(``1/9``, ``sqrt(30)``, ``pi``) so that its roots print as sympy writes them.

Non-goals: units, words (``of`` after a percentage aside), comparisons, assignments, calculus,
matrices, complex results in Calculate, degree-mode trigonometry (angles are in radians).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moss_core.errors import MossAgentError

if TYPE_CHECKING:
    from sympy import Expr

MAX_LENGTH = 1000  # characters of input; MOSS's longest recorded expression is about 300
MAX_DEPTH = 50  # nesting of brackets and of syntax-tree nodes
MAX_DIGITS = 4000  # of any exact integer; below Python's 4300-digit str() limit
MAX_SYMBOLIC_POWER = 64  # |n| in unknown**n, so that polynomial degrees stay small


class MathInputError(MossAgentError, ValueError):
    """The text is not an expression these plugins accept, or is too large to evaluate safely."""


# -------------------------------------------------------------------------------------------
# 1. Tokens
# -------------------------------------------------------------------------------------------

# What people type for the ASCII operators. Brackets of any shape group; π and powers are words.
_TRANSLATE = str.maketrans(
    {
        "×": "*", "✕": "*", "⋅": "*", "·": "*", "∙": "*", "÷": "/", "∕": "/",
        "−": "-", "–": "-", "—": "-", "＋": "+", "－": "-", "＊": "*", "／": "/", "＝": "=",
        "（": "(", "）": ")", "[": "(", "]": ")", "{": "(", "}": ")", "［": "(", "］": ")",
        "，": ",", "；": ";", "％": "%", "！": "!", "π": " pi ", "²": "^2", "³": "^3",
        "\u00a0": " ", "\u202f": " ", "\u2009": " ",
    }
)  # fmt: skip

_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op>\*\*|//|==|[-+*/%^!=(),;√])"
)
_THOUSANDS_HEAD = re.compile(r"\d{1,3}")
_THOUSANDS_GROUP = re.compile(r"\d{3}(?:\.\d+)?")


@dataclass
class Token:
    kind: str  # "num", "name" or "op" (operators and punctuation)
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, joining thousands separators; fail on anything unknown.

    >>> [t.text for t in tokenize("4,817 × max(1,234)")]
    ['4817', '*', 'max', '(', '1', ',', '234', ')']
    """
    if len(text) > MAX_LENGTH:
        raise MathInputError(
            f"The expression is {len(text)} characters long; at most {MAX_LENGTH} are accepted."
        )
    text = text.translate(_TRANSLATE)
    raw: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise MathInputError(
                f"Unexpected character {text[pos]!r} at position {pos}: write only numbers, "
                "names, + - * / ^ % ! and brackets."
            )
        kind = m.lastgroup or ""
        if kind != "ws":
            raw.append(Token(kind, m.group(), m.start(), m.end()))
        pos = m.end()
    return _join_thousands(raw)


def _join_thousands(raw: list[Token]) -> list[Token]:
    out: list[Token] = []
    calls: list[bool] = []  # per open bracket: does it hold several function arguments?
    grouped = False  # the last number came from joined groups and can take another
    i = 0
    while i < len(raw):
        tok = raw[i]
        if tok.text == "(":
            calls.append(bool(out) and out[-1].kind == "name" and out[-1].text in MULTI_ARG)
            if len(calls) > MAX_DEPTH:
                raise MathInputError(f"Brackets are nested more than {MAX_DEPTH} deep.")
        elif tok.text == ")" and calls:
            calls.pop()
        nxt = raw[i + 1] if i + 1 < len(raw) else None
        prev = out[-1] if out else None
        if (
            tok.text == ","
            and not (calls and calls[-1])
            and prev is not None
            and nxt is not None
            and prev.kind == "num"
            and nxt.kind == "num"
            and prev.end == tok.start
            and tok.end == nxt.start
            and (grouped or _THOUSANDS_HEAD.fullmatch(prev.text))
            and "." not in prev.text
            and _THOUSANDS_GROUP.fullmatch(nxt.text)
        ):
            prev.text += nxt.text
            prev.end = nxt.end
            grouped = True
            i += 2
            continue
        grouped = False
        out.append(Token(tok.kind, tok.text, tok.start, tok.end))
        i += 1
    return out


# -------------------------------------------------------------------------------------------
# 2. Python syntax
# -------------------------------------------------------------------------------------------

_BINARY = {"+", "-", "*", "/", "//", "**", "^", ")", ",", ";", "=", "=="}


def _ends_operand(tok: Token) -> bool:
    return (
        tok.kind == "num"
        or tok.text in (")", "!")
        or (tok.kind == "name" and tok.text not in FUNCTIONS)
    )


def _starts_operand(tok: Token) -> bool:
    return tok.kind in ("num", "name") or tok.text in ("(", "√")


def to_python(tokens: Sequence[Token]) -> str:
    """Write tokens as Python: powers, percentages, factorials and implicit products.

    >>> to_python(tokenize("15% of 2460 + 2(3+4)^2 - 3! + √2"))
    '(15/100)*2460+2*(3+4)**2-factorial(3)+sqrt(2)'
    """
    out: list[str] = []
    starts: list[int] = []  # where the operand of each open bracket begins in ``out``
    operand_start = 0  # where the operand that ended last begins in ``out``
    prev: Token | None = None
    queue = list(reversed(tokens))
    while queue:
        tok = queue.pop()
        nxt = queue[-1] if queue else None
        if tok.text == "√":  # √2 -> sqrt(2), √(x+1) -> sqrt(x+1); then read on as usual
            if nxt is None or nxt.text in FUNCTIONS or nxt.text == "√" or not _starts_operand(nxt):
                raise MathInputError("Write √ before a number or a bracket, e.g. √2 or √(x+1).")
            queue.pop()
            parts = [nxt] if nxt.text == "(" else [Token("op", "(", 0, 0), nxt, _CLOSE]
            queue.extend(reversed([Token("name", "sqrt", tok.start, tok.end), *parts]))
            continue
        if prev is not None and _ends_operand(prev) and _starts_operand(tok):
            if prev.kind == "num" and tok.kind == "num":
                raise MathInputError(f"Two numbers in a row near {tok.text!r}: add an operator.")
            out.append("*")
        if tok.kind in ("num", "name"):
            operand_start = len(out)
            out.append(tok.text)
        elif tok.text == "(":
            call = prev is not None and prev.kind == "name" and prev.text in FUNCTIONS
            starts.append(len(out) - 1 if call else len(out))
            out.append("(")
        elif tok.text == ")":
            operand_start = starts.pop() if starts else 0
            out.append(")")
        elif tok.text == "!" and prev is not None and _ends_operand(prev):
            out.insert(operand_start, "factorial(")
            out.append(")")
        elif tok.text == "%" and prev is not None and _ends_operand(prev) and _is_percent(nxt):
            out.insert(operand_start, "(")
            out.append("/100)")
            tok = Token("op", "!", tok.start, tok.end)  # a percentage ends an operand, as ! does
            if nxt is not None and nxt.text == "of":
                queue[-1] = Token("op", "*", nxt.start, nxt.end)
        else:
            out.append("**" if tok.text == "^" else tok.text)
        prev = tok
    return _join(out)


_CLOSE = Token("op", ")", 0, 0)
_WORDLIKE = re.compile(r"[\w.]")


def _join(parts: list[str]) -> str:
    # A space only where two words would otherwise merge: "sqrt 2" must not become "sqrt2".
    text = ""
    for part in parts:
        if text and _WORDLIKE.match(text[-1]) and _WORDLIKE.match(part[0]):
            text += " "
        text += part
    return text


def _is_percent(nxt: Token | None) -> bool:
    # "15 % 4" is a remainder; "15%", "15% of 80", "6.6%-6.7%" are percentages.
    return nxt is None or nxt.text in _BINARY or nxt.text == "of"


# -------------------------------------------------------------------------------------------
# 3. Allowlist
# -------------------------------------------------------------------------------------------

_ALLOWED_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,19}")
CONSTANTS = frozenset({"pi", "e"})


def parse(source: str, *, unknowns: bool) -> ast.expr:
    """Parse Python source and check it against the allowlist; return the expression node.

    >>> ast.dump(parse("2**17", unknowns=False))
    'BinOp(left=Constant(value=2), op=Pow(), right=Constant(value=17))'
    """
    if not source.strip():
        raise MathInputError("The expression is empty.")
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise MathInputError(f"Cannot read {source!r} as arithmetic ({exc}).") from None
    # Iterative, so a deep tree cannot overflow the interpreter's stack. The depth counted is
    # the builder's recursion: a left operand (1+2+3+..., a long sum) is folded in a loop.
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MathInputError(f"The expression is nested more than {MAX_DEPTH} deep.")
        _check_node(node, unknowns)
        if isinstance(node, ast.BinOp):
            stack += [(node.left, depth), (node.right, depth + 1)]
        elif isinstance(node, ast.UnaryOp):
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ast.Call):
            stack += [(arg, depth + 1) for arg in node.args]
    return tree.body


def _check_node(node: ast.AST, unknowns: bool) -> None:
    if isinstance(node, ast.Constant):
        if type(node.value) not in (int, float):  # bool, str, bytes, complex, None
            raise MathInputError(f"{node.value!r} is not a number.")
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, _ALLOWED_OPS):
            raise MathInputError(f"The operator {type(node.op).__name__} is not supported.")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.UAdd, ast.USub)):
            raise MathInputError(f"The operator {type(node.op).__name__} is not supported.")
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise MathInputError(f"{node.id} is a function: write {node.id}(...).")
        if node.id not in CONSTANTS and not (unknowns and NAME_RE.fullmatch(node.id)):
            raise MathInputError(
                f"Unknown name {node.id!r}: Calculate takes numbers only; "
                "use Solve for equations with unknowns."
            )
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        spec = FUNCTIONS.get(name or "")
        if spec is None or node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise MathInputError(f"Unknown function in {ast.unparse(node)!r}.")
        if not spec.min_args <= len(node.args) <= spec.max_args:
            raise MathInputError(f"{name} takes {spec.arity_text} argument(s).")
    else:
        raise MathInputError(f"{type(node).__name__} is not allowed in arithmetic.")


# -------------------------------------------------------------------------------------------
# 4. Building sympy values
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """One function the allowlist admits. ``exact`` builds the sympy value from checked args."""

    exact: Callable[..., Any]
    min_args: int = 1
    max_args: int = 1
    keeps_integers: bool = False  # floor(7) is 7, an integer; sqrt(4) is 2.0, a float

    @property
    def arity_text(self) -> str:
        if self.max_args > 100:
            return f"at least {self.min_args}"
        if self.min_args == self.max_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"


def _functions() -> dict[str, Function]:
    # Built lazily as callables that import sympy, so importing this module stays cheap.
    def sp(name: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            import sympy

            return getattr(sympy, name)(*args)

        return call

    def cbrt(x: Any) -> Any:
        import sympy

        return sympy.sign(x) * sympy.root(abs(x), 3) if x.is_number else sympy.cbrt(x)

    table = {name: Function(sp(name)) for name in ("sqrt", "exp", "sin", "cos", "tan")}
    table |= {name: Function(sp(name)) for name in ("sinh", "cosh", "tanh", "asin", "acos")}
    table |= {name: Function(sp(name)) for name in ("atan", "asinh", "acosh", "atanh")}
    table |= {f"arc{n}": Function(sp(f"a{n}")) for n in ("sin", "cos", "tan")}
    table |= {
        "cbrt": Function(cbrt),
        "log": Function(sp("log"), 1, 2),
        "ln": Function(sp("log")),
        "log10": Function(lambda x: sp("log")(x, 10)),  # evaluated to 53 bits by the builder
        "log2": Function(lambda x: sp("log")(x, 2)),
        "atan2": Function(sp("atan2"), 2, 2),
        "floor": Function(sp("floor"), keeps_integers=True),
        "ceil": Function(sp("ceiling"), keeps_integers=True),
        "abs": Function(sp("Abs"), keeps_integers=True),
        "round": Function(_round, 1, 2, keeps_integers=True),
        "factorial": Function(_factorial, keeps_integers=True),
        "max": Function(sp("Max"), 1, 1000, keeps_integers=True),
        # pow(a, b) is a**b: Builder._call sends it through the same bounded power as ** (the
        # function here is never called). MOSS's calculator took it: pow(12, 1/3).
        "pow": Function(lambda a, b: a**b, 2, 2),
        "min": Function(sp("Min"), 1, 1000, keeps_integers=True),
    }
    return table


def _round(x: Any, ndigits: Any = None) -> Any:
    # Python's round (halves to even), applied to the Python number the value stands for.
    import sympy

    if not x.is_number or (ndigits is not None and not ndigits.is_Integer):
        raise MathInputError("round takes a number and optionally a whole number of digits.")
    value = int(x) if x.is_Integer else float(x)
    if ndigits is None:
        return sympy.Integer(round(value))
    if abs(int(ndigits)) > 400:
        raise MathInputError("round: ask for at most 400 digits.")
    result = round(value, int(ndigits))
    return sympy.Integer(result) if isinstance(result, int) else sympy.Float(result, precision=53)


def _factorial(n: Any) -> Any:
    import sympy

    if n.is_number and not n.is_Integer:
        raise MathInputError("factorial takes a whole number, e.g. factorial(7) or 7!.")
    if n.is_Integer:
        if n < 0:
            raise MathInputError("factorial takes a number that is 0 or more.")
        # Size the result before computing it: log10(n!) = lgamma(n+1) / ln(10).
        if n > 10**6 or math.lgamma(int(n) + 1) / math.log(10) > MAX_DIGITS:
            raise MathInputError(f"{n}! has more than {MAX_DIGITS} digits.")
    return sympy.factorial(n)


FUNCTIONS: dict[str, Function] = _functions()
MULTI_ARG = frozenset(name for name, f in FUNCTIONS.items() if f.max_args > 1)


class Builder:
    """Build a sympy value from a checked tree, bounding each step before it runs.

    ``numeric=True`` (Calculate): every node is a sympy ``Integer`` or a 53-bit ``Float``
    behaving as Python's ``int`` and ``float``. ``numeric=False`` (Solve): exact sympy.

    >>> Builder(numeric=True).build(parse("1/2 + 2**10", unknowns=False))
    1024.50000000000
    """

    def __init__(self, *, numeric: bool) -> None:
        import sympy

        self.sympy = sympy
        self.numeric = numeric
        self.symbols: dict[str, Any] = {}

    def build(self, node: ast.expr) -> Expr:
        return self._check(self._build(node))

    def _build(self, node: ast.expr) -> Any:
        sp = self.sympy
        if isinstance(node, ast.Constant):
            if isinstance(node.value, int):
                return sp.Integer(node.value)
            return sp.Float(node.value, precision=53)
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                exact = sp.pi if node.id == "pi" else sp.E
                return self._float(exact) if self.numeric else exact
            return self.symbols.setdefault(node.id, sp.Symbol(node.id))
        if isinstance(node, ast.UnaryOp):
            value = self.build(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            chain: list[ast.BinOp] = []  # 1+2+3+4 leans left: fold it in a loop, not recursion
            while isinstance(node, ast.BinOp):
                chain.append(node)
                node = node.left
            value = self.build(node)
            for link in reversed(chain):
                right = self.build(link.right)
                result = self._binop(link.op, value, right)
                value = self._check(self._keep_float(result, [value, right]))
            return value
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)  # by the allowlist
        return self._call(node.func.id, [self.build(a) for a in node.args])

    def _binop(self, op: ast.operator, a: Any, b: Any) -> Any:
        sp = self.sympy
        if isinstance(op, ast.Pow):
            return self._pow(a, b)
        if isinstance(op, (ast.Add, ast.Sub, ast.Mult)):
            return a + b if isinstance(op, ast.Add) else a - b if isinstance(op, ast.Sub) else a * b
        if b.is_number and b.is_zero:
            raise MathInputError("Division by zero.")
        if isinstance(op, ast.Div):
            if not self.numeric:
                return a / b
            if a.is_Float or b.is_Float:
                return self._float(a) / self._float(b)
            return sp.Float(sp.Rational(a, b), precision=53)  # int / int, correctly rounded
        if isinstance(op, ast.FloorDiv):
            quotient = sp.floor(a / b)
            return (
                self._float(quotient) if self.numeric and (a.is_Float or b.is_Float) else quotient
            )
        return sp.Mod(a, b)

    def _pow(self, base: Any, exp: Any) -> Any:
        if not (base.is_number and exp.is_number):
            if exp.is_number and not abs(exp) <= MAX_SYMBOLIC_POWER:
                raise MathInputError(f"Powers of unknowns are limited to {MAX_SYMBOLIC_POWER}.")
            return base**exp
        if base.is_zero and exp.is_negative:
            raise MathInputError("Zero cannot be raised to a negative power.")
        if base.is_Float or exp.is_Float or (self.numeric and not exp.is_Integer):
            return self._float(base) ** self._float(exp)  # a float power, cheap at any size
        if exp.is_Rational and base.is_Rational and abs(base) != 1 and not base.is_zero:
            # Size the exact result before computing it: digits ~ |exp| * log10|base|.
            if abs(exp) * max(_log10(base.p), _log10(base.q)) > MAX_DIGITS:
                raise MathInputError(f"The power has more than {MAX_DIGITS} digits.")
            if self.numeric and exp.is_negative:  # int ** negative int is a float in Python
                return self._float(base) ** self._float(exp)
        elif exp.is_Rational and not abs(exp) <= MAX_SYMBOLIC_POWER:
            # sqrt(2)**10000 would expand to an exact 2**5000; keep such powers small.
            raise MathInputError(
                f"Powers of exact irrationals are limited to {MAX_SYMBOLIC_POWER}."
            )
        return base**exp

    def _keep_float(self, result: Any, operands: list[Any]) -> Any:
        # sympy folds a float zero into the exact 0 (0 + 0.0, 0.0 / 1, 2.0 - 2, abs(2.0 - 2));
        # Python's result is the float 0.0, and what follows must stay a float too.
        if self.numeric and not result.is_Float and any(a.is_Float for a in operands):
            return self._float(result)
        return result

    def _call(self, name: str, args: list[Any]) -> Any:
        func = FUNCTIONS[name]
        if name == "pow":
            return self._binop(ast.Pow(), *args)
        if not self.numeric:
            return func.exact(*args)
        if name in ("max", "min"):
            # Python returns the first argument equal to the answer: max(1.0, 1) is 1.0 and
            # max(1, 1.0) is 1, where sympy picks either.
            result = func.exact(*args)
            return next((a for a in args if (a - result).is_zero), result)
        if name == "abs":
            return self._keep_float(func.exact(*args), args)
        if func.keeps_integers:  # floor, ceil, round, factorial: integers, as in Python
            return func.exact(*args)
        # As math.log(8, 2) does, but rounded once: float arguments, taken at their exact
        # binary value, an exact result, then the nearest float (math.log2(8) is 3.0, not
        # the 2.9999999999999996 that dividing two rounded logarithms gives).
        exact = [self.sympy.Rational(self._float(a)) for a in args]
        return self._float(func.exact(*exact))

    def _float(self, value: Any) -> Any:
        """``value`` as a 53-bit sympy Float, failing where Python's float() would."""
        if not value.is_number:
            return value
        if value.has(self.sympy.zoo, self.sympy.nan, self.sympy.oo, -self.sympy.oo):
            raise MathInputError("The result is undefined (division by zero or out of domain).")
        if value.is_Rational:  # correctly rounded, as Python's int / int
            result = self.sympy.Float(value, precision=53)
        else:
            result = value if value.is_Float else value.evalf(15)  # 15 digits: 53 bits
        if not result.is_Float:
            raise MathInputError(f"The result {value} is not a real number.")
        if not math.isfinite(float(result)):
            raise MathInputError("The result is too large for a floating-point number.")
        return result

    def _check(self, value: Any) -> Any:
        """Fail on numbers that are not real, not finite, or too large to carry on with."""
        if not getattr(value, "is_number", False):
            return value
        if value.is_Rational:
            if max(_digits(value.p), _digits(value.q)) > MAX_DIGITS:
                raise MathInputError(f"An intermediate result has more than {MAX_DIGITS} digits.")
            return value
        if self.numeric or value.is_Float:
            return self._float(value)
        if value.has(self.sympy.zoo, self.sympy.nan, self.sympy.oo, -self.sympy.oo):
            raise MathInputError("The result is undefined (division by zero or out of domain).")
        return value


def _digits(n: int) -> int:
    # At least the decimal digits of |n|, without converting to str (which is quadratic).
    return int(abs(n).bit_length() * 0.30103) + 1


def _log10(n: int) -> float:
    # At most log10|n| (0 for n = 1), from the bit length alone.
    return max(abs(n).bit_length() - 1, 0) * 0.30103


def python_number(value: Any) -> int | float:
    """The Python ``int`` or ``float`` a numeric-mode value stands for.

    >>> python_number(Builder(numeric=True).build(parse("2**10", unknowns=False)))
    1024
    """
    if value.is_Integer:
        return int(value)
    if value.is_Float:
        return float(value)
    raise MathInputError(f"The result {value} is not a real number.")
