"""agent.gbnf: the phase-1 grammar as GBNF admits exactly what the llguidance grammar admits,
and llama.cpp's own grammar engine holds the real default model to it, in process and behind
its OpenAI-compatible server.

Equivalence is checked by reading the GBNF back (llguidance's GBNF reader) and running both
grammars over the same texts: the admit and refuse lists, random walks through the Calculate
and Solve grammars, held-out gold lines, and thoughts that contain parts of ``<eot>``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from llguidance import LLMatcher
from llguidance.gbnf_to_lark import gbnf_to_lark

from agent.backends.base import run_stream
from agent.gbnf import GrammarNotConvertible, to_gbnf
from agent.grammar import phase1_grammar
from plugins import default_registry
from plugins._math_grammar import calculate_grammar, solve_grammar
from tests.test_backend_contract import HARD, _calculate_only, _checked, _prompt
from tests.test_grammar import BYTES, _gold_lines, accepts, walk


def _back(lark: str) -> str:
    """``lark`` through GBNF and back: the grammar a GBNF engine enforces, as Lark."""
    return gbnf_to_lark(to_gbnf(lark))


def _phase1_admits(grammar: str, text: str) -> bool:
    m = LLMatcher(BYTES, grammar)
    assert not m.is_error(), m.get_error()
    data = list(text.encode())
    return m.validate_tokens(data) == len(data) and m.consume_tokens(data) and m.is_accepting()


ARGUMENTS = [
    (calculate_grammar(), "4817*63"),
    (calculate_grammar(), "pow(12, 1/3)"),
    (calculate_grammar(), "7!/(4!*(7-4)!)"),
    (calculate_grammar(), "1000*(1+5/100)^3"),
    (calculate_grammar(), "red+white"),
    (calculate_grammar(), "4,817"),
    (calculate_grammar(), "007"),
    (calculate_grammar(), "1960*40)"),
    (solve_grammar(), "2x+4y=10; x+y=4"),
    (solve_grammar(), "x+3z=-2;2y+z=6;"),
    (solve_grammar(), "x=1;;"),
    (solve_grammar(), "red=white"),
]


@pytest.mark.parametrize(("lark", "text"), ARGUMENTS)
def test_argument_grammars_admit_the_same_lines(lark: str, text: str) -> None:
    assert accepts(_back(lark), text) == accepts(lark, text)


@pytest.mark.parametrize(("lark", "seed"), [(calculate_grammar(), 0), (solve_grammar(), 1)])
def test_every_walk_through_an_argument_grammar_is_admitted_by_its_gbnf(
    lark: str, seed: int
) -> None:
    back, rng = _back(lark), random.Random(seed)
    for _ in range(150):
        text = walk(lark, rng)
        assert accepts(back, text), text


def test_the_phase1_grammar_admits_the_same_texts() -> None:
    reg = default_registry()
    reg.disable("Search")
    grammar = phase1_grammar(reg.enabled(), 2)
    back = _back(grammar)
    texts = [
        ' I multiply.<eot>\n<|Commands|>: Calculate("6*7")<eoc>',
        " Small talk <b>.<eot>\n<|Commands|>: None<eoc>",
        ' Two.<eot>\n<|Commands|>: Calculate("1+1"), Solve("x+1=2")<eoc>',
        ' Two.<eot>\n<|Commands|>: Calculate("1+1"), Solve("x+1=2"), Calculate("2")<eoc>',
        ' Look.<eot>\n<|Commands|>: Search("x")<eoc>',
        ' Mix.<eot>\n<|Commands|>: Calculate("red+white")<eoc>',
        # Parts of the terminator inside the thoughts: only the whole of it ends them.
        " a <e <eo <eot <<eot>\n<|Commands|>: None<eoc>",
        " <eot> twice<eot>\n<|Commands|>: None<eoc>",
        " no end\n<|Commands|>: None<eoc>",
    ]
    results = [(_phase1_admits(back, t), _phase1_admits(grammar, t)) for t in texts]
    assert [a for a, _ in results] == [b for _, b in results]
    assert [b for _, b in results] == [True, True, True, False, False, False, True, False, False]


def test_the_phase1_grammar_admits_every_gold_line_through_gbnf() -> None:
    back = _back(phase1_grammar(default_registry().enabled(), 4))
    lines = _gold_lines()[:120]
    refused = [c for c in lines if not _phase1_admits(back, f" T.<eot>\n<|Commands|>: {c}<eoc>")]
    assert refused == []


def test_what_gbnf_cannot_say_is_refused_by_name() -> None:
    with pytest.raises(GrammarNotConvertible, match="anchors, lookarounds"):
        to_gbnf("start: /(?=a)a/")
    with pytest.raises(GrammarNotConvertible, match="cannot read"):
        to_gbnf('%import common.NUMBER\nstart: "a"')
    with pytest.raises(GrammarNotConvertible, match="no 'start' rule"):
        to_gbnf('top: "a"')
    with pytest.raises(GrammarNotConvertible, match="differ only in case"):
        to_gbnf('start: a A\na: "x"\nA: "y"')
    with pytest.raises(GrammarNotConvertible, match="names no sub-grammar"):
        to_gbnf('{"grammars": [{"lark_grammar": "start: @missing"}]}')


# ------------------------------------------------------------------ llama.cpp's grammar engine


def _gguf_and_lora() -> tuple[Path, Path]:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python did not build here")
    from agent.backends.gguf_lora import lora_gguf
    from agent.models import default_gguf_path
    from agent.shipped import ADAPTER_DIR
    from moss_core.errors import ModelNotAvailableError

    try:
        gguf = default_gguf_path()
    except ModelNotAvailableError as error:
        pytest.skip(f"the default GGUF is not available: {error}")
    return gguf, lora_gguf(ADAPTER_DIR, gguf)


def test_llama_cpp_holds_the_shipped_model_to_the_gbnf() -> None:
    """In process: llama.cpp's sampler with the GBNF, on questions the shipped adapter answers
    with a search, a word in Calculate or a story sent to Solve when it writes freely."""
    import llama_cpp

    gguf, lora = _gguf_and_lora()
    llm = llama_cpp.Llama(str(gguf), lora_path=str(lora), n_ctx=1024, verbose=False, seed=0)
    grammar = llama_cpp.LlamaGrammar.from_string(to_gbnf(_calculate_only()), verbose=False)
    for question in HARD:
        out = llm.create_completion(
            _prompt(question), max_tokens=96, temperature=0, grammar=grammar, stop=["<eoc>"]
        )
        choice = out["choices"][0]  # type: ignore[index]
        assert choice["finish_reason"] == "stop", choice["text"]
        _checked(choice["text"] + "<eoc>")


@pytest.fixture(scope="module")
def adapted_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama.cpp server on the default GGUF with the shipped adapter."""
    from tests.test_backend_openai import llama_server

    gguf, lora = _gguf_and_lora()
    pytest.importorskip("llama_cpp.server", reason="pip install 'llama-cpp-python[server]'")
    with llama_server(gguf, tmp_path_factory, "--lora_path", str(lora)) as url:
        yield url


@pytest.mark.server
def test_the_server_backend_sends_the_grammar_and_the_server_holds_to_it(
    adapted_server: str,
) -> None:
    from agent.backends.openai import OpenAICompatibleBackend
    from tests.test_backend_openai import N_CTX

    held = OpenAICompatibleBackend(adapted_server, "smollm2", context_length=N_CTX, timeout=120)
    free = OpenAICompatibleBackend(
        adapted_server, "smollm2", context_length=N_CTX, timeout=120, grammar_field=None
    )
    assert held.constrains and not free.constrains
    grammar = _calculate_only()
    changed = 0
    for question in HARD:
        gen = run_stream(
            held.stream(_prompt(question), stop=["<eoc>"], max_new_tokens=96, grammar=grammar)
        )
        assert gen.stop == "<eoc>", gen.text
        _checked(gen.text + "<eoc>")
        loose = run_stream(free.stream(_prompt(question), stop=["<eoc>"], max_new_tokens=96))
        changed += loose.text != gen.text
    assert changed > 0  # free, the model calls another tool or writes a word for at least one
