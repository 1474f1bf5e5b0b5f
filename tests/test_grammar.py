"""Argument grammars and the phase-1 grammar: what they admit, what they refuse, and that the
calculator parses every line the Calculate grammar can produce.

The grammars run in llguidance itself over a byte-level vocabulary (one token per byte), so a
random walk through the grammar can reach any string it admits; the real model's vocabulary is
exercised by tests/test_constrained.py.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from llguidance import LLMatcher, LLTokenizer, TokenizerWrapper

from agent.grammar import phase1_grammar
from moss_core.protocol import parse_commands, parse_phase1
from plugins import PluginError, Registry, default_registry
from plugins._math_grammar import calculate_grammar, solve_grammar
from plugins._safe_math import parse, to_python, tokenize
from plugins.grammar import DEFAULT, as_lark, check

EOS = 256


class _Bytes:
    """A tokenizer whose tokens are the 256 bytes, and an end of text."""

    eos_token_id = EOS
    bos_token_id = None
    tokens = (*(bytes([i]) for i in range(256)), b"<eos>")
    special_token_ids = (EOS,)

    def __call__(self, text: bytes) -> list[int]:
        return list(text)


BYTES = LLTokenizer(TokenizerWrapper(_Bytes()))


def matcher(lark: str) -> LLMatcher:
    m = LLMatcher(BYTES, LLMatcher.grammar_from_lark(lark))
    assert not m.is_error(), m.get_error()
    return m


def accepts(lark: str, text: str) -> bool:
    m = matcher(lark)
    data = list(text.encode())
    return m.validate_tokens(data) == len(data) and m.consume_tokens(data) and m.is_accepting()


# Past the length limit a walk heads for the end: closing brackets and quotes, then digits (a
# random walk through nested brackets would otherwise grow without end).
_CLOSING = [EOS, *b')"<', *b"0123456789"]


def random_step(m: LLMatcher, rng: random.Random, long: bool) -> int | None:
    """A token ``m`` allows, at random (toward the end when ``long``); None at the end."""
    bits = m.compute_bitmask()
    allowed = [t for t in range(257) if bits[t // 8] >> (t % 8) & 1]
    if long:
        allowed = (
            [next(t for t in _CLOSING if t in allowed)] if set(_CLOSING) & set(allowed) else allowed
        )
    token = rng.choice(allowed)
    return None if token == EOS else token


def walk(lark: str, rng: random.Random, *, stop_chance: float = 0.25, limit: int = 60) -> str:
    """A random string the grammar admits: a random allowed byte at each step, ending where
    the grammar may end (with ``stop_chance``) or, past ``limit`` bytes, as soon as it can."""
    m = matcher(lark)
    out = bytearray()
    while True:
        if len(out) > 4 * limit:
            raise AssertionError(f"a walk did not end: {out.decode()!r}")
        ends = m.compute_bitmask()[EOS // 8] >> (EOS % 8) & 1 and rng.random() < stop_chance
        token = None if ends else random_step(m, rng, len(out) > limit)
        if token is None:
            return out.decode()
        assert m.consume_token(token)
        out.append(token)


def calculator_parses(text: str) -> None:
    parse(to_python(tokenize(text)), unknowns=False)


def test_every_walk_through_the_calculate_grammar_parses_in_the_calculator() -> None:
    rng = random.Random(0)
    lark = calculate_grammar()
    seen = set()
    for _ in range(400):
        text = walk(lark, rng)
        seen.add(text)
        try:
            calculator_parses(text)
        except Exception as exc:
            raise AssertionError(
                f"the grammar admits {text!r}, the calculator refuses: {exc}"
            ) from exc
    assert len(seen) > 300  # the walks reach far: functions, percent, powers, thousands


def test_every_walk_through_the_solve_grammar_parses_as_equations() -> None:
    from plugins.solver import read_system  # the solver's own reading of its argument

    rng = random.Random(1)
    lark = solve_grammar()
    for _ in range(200):
        text = walk(lark, rng, stop_chance=0.3)
        try:
            read_system(text)
        except Exception as exc:
            # A value, not a form, can still be refused: a division by zero, a number too large.
            if not re.search(
                r"(?i)division by zero|too large|more than|limited to|at most", str(exc)
            ):
                raise AssertionError(
                    f"the grammar admits {text!r}, the solver refuses: {exc}"
                ) from exc


@pytest.mark.parametrize(
    "line",
    ["4817*63", "19.60*40", "2^17", "sqrt(7056)", "7!", "15%*2460", "pow(12, 1/3)",
     "(1300+700+1100)/2", "-5+3", "ceil(500/375)", "log(100, 10)", "sin(pi/5)", "98-8",
     "2 * 3 + 4", "max(1, 2, 3)", "1000*(1+5/100)^3", "7!/(4!*(7-4)!)"],
)  # fmt: skip
def test_the_calculate_grammar_admits_what_a_model_should_write(line: str) -> None:
    assert accepts(calculate_grammar(), line)
    calculator_parses(line)


@pytest.mark.parametrize(
    "line",
    [
        "red+white",
        "x*2",
        "2 + ",
        "1960*40)",
        "sqrt 4",
        "Calculate(1)",
        "",
        "1\n2",
        '1"',
        "4,817",
        "007",
    ],
)
def test_the_calculate_grammar_refuses_words_unknowns_and_broken_lines(line: str) -> None:
    assert not accepts(calculate_grammar(), line)


@pytest.mark.parametrize(
    "line",
    [
        "x+y=30;x-y=8",
        "2x+4y=10; x+y=4",
        "3y - 7 = 20",
        "x/2+3=10",
        "6^2 + b^2 = 10^2",
        "x+3z=-2;2y+z=6;",
    ],
)
def test_the_solve_grammar_admits_equations(line: str) -> None:
    assert accepts(solve_grammar(), line)


@pytest.mark.parametrize("line", ["x+y", "red=white", "x=1;;", "2+2", "x=1;y"])
def test_the_solve_grammar_refuses_what_is_not_an_equation(line: str) -> None:
    assert not accepts(solve_grammar(), line)


def test_a_plugin_grammar_that_does_not_compile_names_the_plugin_and_the_error() -> None:
    reg = Registry()
    with pytest.raises(
        PluginError, match=r"(?s)Plugin Broken: its regex does not compile.*unclosed"
    ):

        @reg.plugin("Broken", grammar="[a-")
        def broken(text: str) -> str:
            return text

    with pytest.raises(PluginError, match=r"Plugin Lark: its Lark grammar does not compile.*foo"):

        @reg.plugin("Lark", grammar="start: foo\n")
        def lark(text: str) -> str:
            return text

    with pytest.raises(PluginError, match="non-empty"):
        check("Empty", "")
    assert "Broken" not in reg and "Lark" not in reg


def test_a_plugin_grammar_is_a_regex_or_a_lark_grammar() -> None:
    reg = Registry()

    @reg.plugin("Zip", grammar=r"[0-9]{5}")
    def zip_code(text: str) -> str:
        return text

    @reg.plugin("Yes", grammar='start: "yes" | "no"')
    def yes(text: str) -> str:
        return text

    assert accepts(reg.get("Zip").grammar or "", "12345")
    assert not accepts(reg.get("Zip").grammar or "", "1234a")
    assert accepts(reg.get("Yes").grammar or "", "no")
    assert not accepts(as_lark(DEFAULT), 'a "quote"') and accepts(as_lark(DEFAULT), "any text")


def _phase1_accepts(grammar: str, text: str) -> bool:
    m = LLMatcher(BYTES, grammar)
    data = list(text.encode())
    return m.validate_tokens(data) == len(data)


def test_the_phase1_grammar_calls_only_enabled_plugins_within_max_commands() -> None:
    reg = default_registry()
    reg.disable("Search")
    grammar = phase1_grammar(reg.enabled(), 2)
    ok = ' I multiply.<eot>\n<|Commands|>: Calculate("6*7")<eoc>'
    assert _phase1_accepts(grammar, ok)
    assert _phase1_accepts(grammar, " Small talk <b>.<eot>\n<|Commands|>: None<eoc>")
    two = ' Two.<eot>\n<|Commands|>: Calculate("1+1"), Solve("x+1=2")<eoc>'
    assert _phase1_accepts(grammar, two)
    assert not _phase1_accepts(grammar, two.replace("<eoc>", ', Calculate("2")<eoc>'))
    assert not _phase1_accepts(grammar, ' Look.<eot>\n<|Commands|>: Search("x")<eoc>')
    assert not _phase1_accepts(grammar, ' Mix.<eot>\n<|Commands|>: Calculate("red+white")<eoc>')
    # The thoughts cannot hold a Commands line of their own, which would reach the stop string
    # <eoc> without ever passing the grammar; other "<" stay free.
    hidden = ' Add: 4+350/400g of flour.\n<|Commands|>: Calculate("4+350/400g of flour")<eoc>'
    assert not _phase1_accepts(grammar, hidden)
    assert not _phase1_accepts(grammar, " I compute <eoc>")
    assert _phase1_accepts(
        grammar, ' Is 3 < 5? <e <eo <eoc<eot>\n<|Commands|>: Calculate("3-5")<eoc>'
    )
    none_at_all = phase1_grammar([], 4)
    assert _phase1_accepts(none_at_all, " Hi.<eot>\n<|Commands|>: None<eoc>")
    assert not _phase1_accepts(none_at_all, ' Hi.<eot>\n<|Commands|>: Calculate("1")<eoc>')


def _gold_lines() -> list[str]:
    from finetune.synth.generate import iter_conversations

    lines = []
    for conv in iter_conversations(300, seed=0, split="heldout"):
        for ex in conv.exchanges:
            lines.append(ex.commands)
    return lines


def test_the_phase1_grammar_admits_every_gold_line_of_the_held_out_set() -> None:
    grammar = phase1_grammar(default_registry().enabled(), 4)
    lines = _gold_lines()
    refused = [
        c for c in lines if not _phase1_accepts(grammar, f" T.<eot>\n<|Commands|>: {c}<eoc>")
    ]
    assert len(lines) > 300 and refused == []


def test_the_phase1_grammar_admits_moss_sample_lines_but_listed_out_of_spec_ones(
    moss_samples: Path,
) -> None:
    grammar = phase1_grammar(default_registry().enabled(), 4)
    total, refused = 0, []
    for path in sorted(moss_samples.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for turn in data.get("chat", {}).values():
            raw = turn.get("Commands", "")
            line = re.sub(r"^<\|Commands\|>:\s*|<eoc>\s*$", "", raw.strip())
            parsed = parse_commands(line)
            if parsed.is_none or parsed.errors:
                continue
            names = {c.name for c in parsed.calls}
            if not names <= {"Calculate", "Solve", "Search"} or len(parsed.calls) > 4:
                continue  # another tool (text-to-image), or more calls than max_commands
            total += 1
            text = f" T.<eot>\n<|Commands|>: {line}<eoc>"
            if not _phase1_accepts(grammar, text):
                refused.append(line)
    assert total > 100
    # What the grammar refuses is narrower forms the calculator reads from people: named
    # values, implicit products, "of", unicode operators; each has its plain form.
    assert len(refused) / total < 0.25, refused[:20]


def test_constrained_phase1_text_always_parses() -> None:
    rng = random.Random(3)
    reg = default_registry()
    grammar = phase1_grammar(reg.enabled(), 4)
    for _ in range(60):
        m = LLMatcher(BYTES, grammar)
        out = bytearray(b" T.<eot>")
        assert m.consume_tokens(list(out))
        while not m.is_stopped():
            token = random_step(m, rng, len(out) > 80)
            if token is None:
                break
            assert m.consume_token(token)
            out.append(token)
        phase1 = parse_phase1(out.decode())
        assert not phase1.parsed.errors
        for call in phase1.parsed.calls:
            if call.name == "Calculate":
                calculator_parses(call.argument)
