"""The Solve plugin: one equation or a small system, solved exactly by sympy.

Scope: equations as people and models write them, read safely by ``plugins._safe_math`` (no
``eval``): ``3y - 7 = 20``, ``x+y=30;x-y=8``, ``x + y = 3, 2x + 4y = 4``, ``a=2b and a+b=9``,
``6^2 + b^2 = 10^2``. Equations are separated by ``;``, a comma outside brackets, or ``and``;
``=`` and ``==`` both mean equality. The unknowns are every name that is not ``pi``, ``e`` or a
function; a part that is a bare name (``2t + 6t + t = 1, t``) says which unknowns to solve for,
and the others may then appear in the answer.

Output: a ``dict`` for the "fields" layout. One solution: ``{"x": 24, "y": 26}``. Several:
numbered per solution, ``{"x_0": -6, "x_1": 4}`` (MOSS's own spelling), in sympy's order and
complex roots included. Integers are ``int``; other values are sympy's ``str``: ``17/3``,
``-1 - sqrt(3)*I``, ``2.50000000000000`` (a decimal in the input gives decimal answers).

Failure (an exception; the model sees ``No result.``): no solution, infinitely many, an
expression without ``=``, more than ``MAX_UNKNOWNS`` unknowns or equations, a degree above
``MAX_DEGREE`` (checked before solving), or more than ``TIMEOUT`` seconds of sympy: solving runs
in a worker process, killed when it overruns, because sympy can spend many minutes on a small
nonlinear system and a thread cannot be stopped.

Non-goals: inequalities, differential equations, numeric root finding, parametric families.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from typing import Any

from plugins._math_grammar import solve_grammar
from plugins._safe_math import (
    CONSTANTS,
    Builder,
    MathInputError,
    Token,
    parse,
    to_python,
    tokenize,
)
from plugins.registry import plugin

MAX_UNKNOWNS = 6  # also the most equations
MAX_DEGREE = 16  # per equation, after clearing denominators
MAX_BEZOUT = 64  # product of the degrees of a system: a bound on its number of solutions
MAX_SOLUTIONS = 64
MAX_EXACT_CHARS = 80  # longer exact values are given as 15-digit decimals
TIMEOUT = 5.0  # seconds one Solve may take in the worker process
STARTUP_TIMEOUT = 60.0  # seconds for the worker to start and import sympy
MEMORY_LIMIT = 1 << 30  # bytes the worker may allocate beyond what it holds once started


@plugin(
    "Solve", label="Equation solver", api="Solve(equation)", grounded=True, grammar=solve_grammar()
)
def solve(equation: str) -> dict[str, int | str]:
    """Solve an equation or a system of equations.

    The first paragraph above is what the model is told. This runs ``solve_now`` in the
    worker process, which is killed and replaced after ``TIMEOUT`` seconds.

    >>> solve("25x+35y=1510;x+y=50")
    {'x': 24, 'y': 26}
    """
    return _worker.solve(equation, TIMEOUT)


def solve_now(equation: str) -> dict[str, int | str]:
    """Solve in this process, with the size checks but without the time limit.

    >>> solve_now("x^2 + 2x = 24")
    {'x_0': -6, 'x_1': 4}
    """
    equations, wanted = read_system(equation)
    unknowns = sorted(set().union(*(e.free_symbols for e in equations)), key=str)
    if not unknowns:
        raise MathInputError(
            f"{equation!r} has no unknowns: it is true or false as written. Calculate numbers."
        )
    missing = [w for w in wanted if w not in unknowns]
    if missing:
        raise MathInputError(f"{', '.join(map(str, missing))} does not appear in the equations.")
    targets = wanted or unknowns
    if len(targets) > MAX_UNKNOWNS or len(equations) > MAX_UNKNOWNS:
        raise MathInputError(f"At most {MAX_UNKNOWNS} equations and unknowns are solved.")
    _check_degrees(equations, unknowns)
    solutions = _solutions(equations, targets, equation)
    if not solutions:
        raise MathInputError(f"{equation!r} has no solution.")
    for sol in solutions:
        # A solution that leaves an unknown free, or expresses one through another, is a family.
        free = set().union(*(v.free_symbols for v in sol.values()))
        if set(sol) != set(targets) or (free & set(targets)) or (free and not wanted):
            raise MathInputError(
                f"{equation!r} has infinitely many solutions: give as many independent "
                "equations as unknowns."
            )
    if len(solutions) > MAX_SOLUTIONS:
        raise MathInputError(f"{equation!r} has more than {MAX_SOLUTIONS} solutions.")
    if len(solutions) == 1:
        return {str(s): _value(solutions[0][s]) for s in targets}
    return {f"{s}_{i}": _value(sol[s]) for i, sol in enumerate(solutions) for s in targets}


# -- reading ---------------------------------------------------------------------------------


def read_system(text: str) -> tuple[list[Any], list[Any]]:
    """Read ``text`` into sympy expressions equal to zero, and the unknowns it names.

    >>> read_system("3y - 7 = 20, y")
    ([3*y - 27], [y])
    """
    builder = Builder(numeric=False)
    equations, wanted = [], []
    for part in _split(tokenize(text)):
        if len(part) == 1 and part[0].kind == "name" and part[0].text not in CONSTANTS:
            wanted.append(builder.build(parse(part[0].text, unknowns=True)))  # "..., t"
            continue
        sides = _split(part, separators=("=", "=="))
        if len(sides) != 2:
            raise MathInputError(
                f"{_text(part)!r} is not an equation: write one '=' between two sides, "
                "e.g. 3x + 7 = 24."
            )
        left, right = (builder.build(parse(to_python(s), unknowns=True)) for s in sides)
        equations.append(left - right)
    if not equations:
        raise MathInputError('No equation given: write e.g. Solve("3x + 7 = 24").')
    return equations, wanted


def _split(
    tokens: list[Token], separators: tuple[str, ...] = (";", ",", "and")
) -> list[list[Token]]:
    # Split at separators outside brackets; commas inside max(...) belong to the call. Empty
    # parts (a trailing ";") are dropped, but an equation side must not be empty.
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in tokens:
        depth += (tok.text == "(") - (tok.text == ")")
        if depth == 0 and tok.text in separators:
            parts.append([])
        else:
            parts[-1].append(tok)
    if "=" in separators:
        if any(not p for p in parts):
            raise MathInputError("An equation has an empty side.")
        return parts
    return [p for p in parts if p]


def _text(tokens: list[Token]) -> str:
    return " ".join(t.text for t in tokens)


# -- size checks -----------------------------------------------------------------------------


def _check_degrees(equations: list[Any], unknowns: list[Any]) -> None:
    product = 1
    for eq in equations:
        degree = _degree(eq, set(unknowns))[0]  # of the numerator, once denominators are cleared
        if degree > MAX_DEGREE:
            raise MathInputError(f"The equation {eq} = 0 has degree above {MAX_DEGREE}.")
        product *= max(degree, 1)
    if product > MAX_BEZOUT:
        raise MathInputError("The system is too large to solve quickly; simplify it first.")


def _degree(expr: Any, unknowns: set[Any]) -> tuple[int, int]:
    """Upper bounds on the degrees of numerator and denominator, without expanding anything.

    >>> import sympy; x = sympy.Symbol("x")
    >>> _degree(900 / x**2 - x**2, {x})
    (4, 2)
    """
    if not (expr.free_symbols & unknowns):
        return 0, 0
    if expr.is_Symbol:
        return 1, 0
    if expr.is_Add or expr.is_Mul:
        parts = [_degree(a, unknowns) for a in expr.args]
        den = sum(d for _, d in parts)
        if expr.is_Mul:
            return sum(n for n, _ in parts), den
        # a/b + c/d = (a*d + c*b) / (b*d)
        return max(n + den - d for n, d in parts), den
    if expr.is_Pow and expr.exp.is_Integer:
        num, den = _degree(expr.base, unknowns)
        k = int(expr.exp)
        return (num * k, den * k) if k >= 0 else (den * -k, num * -k)
    if expr.is_Pow and expr.exp.is_Rational:
        num, den = _degree(expr.base, unknowns)  # a root: squaring it away at most doubles
        k = abs(int(expr.exp.p))
        return (num + den) * k, 0
    # exp(x), sin(x), 2**x: a new unknown of its own, as solve substitutes it.
    return sum(_degree(a, unknowns)[0] for a in expr.args) or 1, 0


# -- solving ---------------------------------------------------------------------------------


def _solutions(equations: list[Any], targets: list[Any], text: str) -> list[dict[Any, Any]]:
    import sympy

    if len(equations) == 1 and len(targets) == 1:
        roots = _polynomial_roots(equations[0], targets[0])
        if roots is not None:
            return [{targets[0]: r} for r in roots]
    # One equation goes in alone: as a one-element list sympy drops CRootOf answers.
    system = equations[0] if len(equations) == 1 else equations
    try:
        found = sympy.solve(system, targets, dict=True)
    except NotImplementedError as exc:
        raise MathInputError(f"sympy cannot solve {text!r} ({exc}).") from None
    return [{k: sympy.sympify(v) for k, v in sol.items()} for sol in found]


def _polynomial_roots(equation: Any, x: Any) -> list[Any] | None:
    """All roots of a polynomial equation of degree 5 or more in ``x`` alone, else None.

    sympy.solve takes seconds to minutes on these (it builds CRootOf objects one by one);
    ``roots`` finds the exact ones in milliseconds and ``nroots`` gives 15 digits of the rest.
    """
    import sympy

    numerator, denominator = sympy.fraction(sympy.together(equation))
    if denominator.free_symbols or numerator.free_symbols != {x}:
        return None
    if not numerator.is_polynomial(x):
        return None
    poly = sympy.Poly(numerator, x)
    if poly.degree() <= 4:
        return None  # solve() writes these in sympy's usual order and forms
    exact = sympy.roots(poly, multiple=True)
    found = exact if len(exact) == poly.degree() else poly.nroots(n=15)
    return list(dict.fromkeys(found))  # a double root is one solution


def _value(v: Any) -> int | str:
    if v.is_Integer:
        return int(v)
    text = str(v)
    if len(text) > MAX_EXACT_CHARS and v.is_number:
        return str(v.evalf(15))  # a page of nested radicals helps nobody; its digits do
    return text


# -- the worker process ----------------------------------------------------------------------


class _Worker:
    """A Python process that runs ``solve_now`` for this one, restarted after a timeout.

    A separate interpreter rather than a fork: forking a threaded program (a web UI, torch) can
    deadlock the child, and multiprocessing would re-run the user's main script in it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ready = False

    def solve(self, equation: str, timeout: float) -> dict[str, int | str]:
        with self._lock:  # one question at a time; a second Solve waits its turn
            self._wait_ready()
            assert self._proc is not None and self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(equation) + "\n")
            self._proc.stdin.flush()
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.stop()
                self._spawn()  # its start-up overlaps with whatever comes next
                raise MathInputError(
                    f"Solving {equation!r} took longer than {timeout:g} s: simplify the system."
                ) from None
            if line is None:
                self.stop()
                raise MathInputError(f"The solver stopped on {equation!r} (out of memory?).")
        reply = json.loads(line)
        if not reply["ok"]:
            raise MathInputError(reply["error"])
        return dict(reply["value"])

    def _wait_ready(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self.stop()
            self._spawn()
        if not self._ready:
            with contextlib.suppress(queue.Empty):
                self._ready = self._lines.get(timeout=STARTUP_TIMEOUT) == "ready"
            if not self._ready:
                self.stop()
                raise MathInputError("The solver process did not start; is sympy installed?")

    def _spawn(self) -> None:
        # The worker imports what this process can: same interpreter, same module path.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p or os.getcwd() for p in sys.path))
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from plugins.solver import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self._lines, self._ready = queue.Queue(), False
        pump = threading.Thread(target=_pump, args=(self._proc.stdout, self._lines), daemon=True)
        pump.start()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    stream.close()
            self._proc, self._ready = None, False


def _pump(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)  # the process ended


def serve() -> None:
    """The worker's loop: a JSON string per line in, a JSON reply per line out."""
    import sympy  # noqa: F401  (imported before "ready", so that no question waits for it)

    _limit_memory(MEMORY_LIMIT)
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            reply = {"ok": True, "value": solve_now(json.loads(line))}
        except MathInputError as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:  # whatever sympy raised, MemoryError included
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)


def _limit_memory(extra: int) -> None:
    try:
        import resource

        with open("/proc/self/statm") as f:  # Linux: virtual size in pages
            used = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + extra, resource.RLIM_INFINITY))
    except (ImportError, OSError, ValueError):
        pass  # elsewhere only the time limit applies


_worker = _Worker()
atexit.register(_worker.stop)
