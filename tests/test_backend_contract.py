"""The Backend contract, one suite run over both local engines on the real default model.

Each test gets the llama.cpp engine (``LlamaCppBackend`` on the shipped GGUF) and the
transformers engine (``TransformersBackend`` on the same weights, dequantised), both with the
shipped adapter, so the model writes the MOSS turns it was trained for: prefix reuse, stop
strings, cancellation, alternatives, samples, batches and errors must behave alike. References are
fresh runs of the same engine with no cache (``reuse_cache=False``), so a test checks the
engine against itself, not one engine's rounding against the other's. Where the two engines
are compared, it is on what must agree: greedy text on prompts the shipped adapter was trained
for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agent.backends.base import (
    AlternativesBackend,
    Backend,
    BatchBackend,
    Generation,
    SamplesBackend,
    run_stream,
)
from moss_core.errors import BackendError, ModelNotAvailableError

PROMPT = "<|Human|>: What is 4/7?<eoh>\n<|Inner Thoughts|>:"
THOUGHTS = ' I should calculate this.<eot>\n<|Commands|>: Calculate("4/7")<eoc>\n'
RESULTS = "<|Results|>:\nCalculate(\"4/7\") => '0.5714285714285714'\n<eor>\n<|MOSS|>:"


def _open(engine: str, **kw: Any) -> Any:
    from agent.shipped import ADAPTER_DIR

    kw.setdefault("adapter", ADAPTER_DIR)
    try:
        if engine == "llama.cpp":
            pytest.importorskip("llama_cpp", reason="llama-cpp-python did not build here")
            from agent.backends.llamacpp import LlamaCppBackend

            return LlamaCppBackend.from_gguf(None, n_ctx=2048, **kw)
        pytest.importorskip("torch")
        from agent.backends.transformers import TransformersBackend

        return TransformersBackend.from_pretrained(None, device="cpu", **kw)
    except ModelNotAvailableError as error:
        pytest.skip(f"the default model is not available: {error}")


@pytest.fixture(scope="module", params=["llama.cpp", "transformers"])
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    backend = _open(request.param)
    yield backend
    backend.reset()


@pytest.fixture
def backend(engine: Any) -> Any:
    engine.reset()
    return engine


def fresh(backend: Any, prompt: str, *, stop: tuple[str, ...] = (), n: int = 16) -> Generation:
    """What ``backend`` generates for ``prompt`` with nothing cached."""
    backend.reset()
    return run_stream(backend.stream(prompt, stop=stop, max_new_tokens=n))


def collect(backend: Any, prompt: str, **kw: Any) -> tuple[list[str], Generation]:
    kw.setdefault("stop", ())
    kw.setdefault("max_new_tokens", 16)
    pieces: list[str] = []
    gen = run_stream(backend.stream(prompt, **kw), pieces.append)
    return pieces, gen


def test_is_a_backend_with_batches_and_alternatives(backend: Any) -> None:
    assert isinstance(backend, Backend)
    assert isinstance(backend, BatchBackend)
    assert isinstance(backend, AlternativesBackend)
    assert backend.context_length >= 2048
    assert backend.count_tokens(PROMPT) > 5


def test_stop_string_cuts_the_text_and_is_never_streamed(backend: Any) -> None:
    full = fresh(backend, PROMPT + THOUGHTS + RESULTS, n=12)
    stop = full.text[5:8]
    backend.reset()
    pieces, gen = collect(
        backend, PROMPT + THOUGHTS + RESULTS, stop=("never", stop), max_new_tokens=12
    )
    assert gen.stop == stop and gen.text == full.text[: full.text.index(stop)]
    assert "".join(pieces) == gen.text and all(stop not in p for p in pieces)


def test_phase_two_encodes_only_new_tokens_and_matches_a_fresh_run(backend: Any) -> None:
    _, phase1 = collect(backend, PROMPT, stop=("<eoc>",), max_new_tokens=24)
    assert phase1.prefill_tokens == phase1.prompt_tokens
    phase2_prompt = PROMPT + phase1.text + "<eoc>\n" + RESULTS
    _, phase2 = collect(backend, phase2_prompt, stop=("<eom>",))
    new_tokens = phase2.prompt_tokens - phase1.prompt_tokens - phase1.completion_tokens
    # Only what phase 1 did not see is encoded (+1 or 2: the last generated token was never
    # run through the model, and a token may merge across the boundary).
    assert phase2.prefill_tokens <= new_tokens + 3
    assert phase2.text == fresh(backend, phase2_prompt, stop=("<eom>",)).text


def test_same_prompt_twice_encodes_only_the_last_token(backend: Any) -> None:
    _, first = collect(backend, PROMPT, max_new_tokens=4)
    _, again = collect(backend, PROMPT, max_new_tokens=4)
    assert again.prefill_tokens == 1 and again.text == first.text


def test_a_prompt_that_diverges_midway_is_cut_back_and_still_correct(backend: Any) -> None:
    collect(backend, PROMPT + THOUGHTS + RESULTS, max_new_tokens=4)
    other = PROMPT.replace("4/7", "9/11") + THOUGHTS.replace("4/7", "9/11")
    _, gen = collect(backend, other, max_new_tokens=12)
    assert gen.prefill_tokens < gen.prompt_tokens
    assert gen.text == fresh(backend, other, n=12).text


def test_closing_a_stream_early_stops_and_leaves_a_usable_cache(backend: Any) -> None:
    stream = backend.stream(PROMPT + THOUGHTS + RESULTS, stop=(), max_new_tokens=40)
    next(stream)
    stream.close()  # as a Stop button does: no more tokens are decoded
    assert len(backend.cached_ids) < backend.count_tokens(PROMPT + THOUGHTS + RESULTS) + 3
    _, gen = collect(backend, PROMPT, max_new_tokens=12)
    assert gen.text == fresh(backend, PROMPT, n=12).text


def test_a_second_stream_in_the_same_thread_is_refused(backend: Any) -> None:
    stream = backend.stream(PROMPT, stop=(), max_new_tokens=20)
    next(stream)
    with pytest.raises(BackendError, match="still open"):
        run_stream(backend.stream(PROMPT, stop=(), max_new_tokens=2))
    with pytest.raises(BackendError, match="still open"):
        backend.alternatives(PROMPT, stop=(), max_new_tokens=4, n=2)
    stream.close()


def test_bad_prompts_are_refused_and_the_backend_still_works(backend: Any) -> None:
    with pytest.raises(BackendError, match="empty"):
        run_stream(backend.stream("", stop=(), max_new_tokens=4))
    too_long = PROMPT * (backend.context_length // 10)
    for call in (
        lambda: run_stream(backend.stream(too_long, stop=(), max_new_tokens=4)),
        lambda: backend.alternatives(too_long, stop=(), max_new_tokens=4, n=2),
        lambda: backend.generate_batch([PROMPT, too_long], stop=(), max_new_tokens=4),
    ):
        with pytest.raises(BackendError, match="exceeds the context length"):
            call()
    with pytest.raises(ValueError, match="n >= 1"):
        backend.alternatives(PROMPT, stop=(), max_new_tokens=4, n=0)
    _, gen = collect(backend, PROMPT, max_new_tokens=8)
    assert gen.text == fresh(backend, PROMPT, n=8).text


# -- alternatives (beam search) -------------------------------------------------------------------


def test_one_alternative_is_the_greedy_output(backend: Any) -> None:
    greedy = fresh(backend, PROMPT, n=12)
    [alt] = backend.alternatives(PROMPT, stop=(), max_new_tokens=12, n=1)
    assert (alt.text, alt.stop, alt.completion_tokens) == (greedy.text, None, 12)


def test_alternatives_are_distinct_ranked_and_end_at_stops(backend: Any) -> None:
    gens = backend.alternatives(PROMPT, stop=("<eoc>",), max_new_tokens=24, n=3)
    assert len(gens) == 3 and len({g.text for g in gens}) == 3
    for g in gens:
        assert "<eoc>" not in g.text
        assert g.stop == "<eoc>" or g.completion_tokens == 24 or g.stop == "<|im_end|>"


def test_one_alternative_with_a_stop_is_the_greedy_line(backend: Any) -> None:
    [best] = backend.alternatives(PROMPT, stop=("<eoc>",), max_new_tokens=32, n=1)
    greedy = fresh(backend, PROMPT, stop=("<eoc>",), n=32)
    assert (best.text, best.stop) == (greedy.text, greedy.stop)


# -- samples (drawn candidates) -------------------------------------------------------------------


def test_samples_repeat_for_a_seed_and_leave_greedy_decoding_as_it_was(backend: Any) -> None:
    assert isinstance(backend, SamplesBackend)
    greedy = fresh(backend, PROMPT, stop=("<eoc>",), n=24)
    draw = {"stop": ("<eoc>",), "max_new_tokens": 24, "n": 4, "temperature": 1.5, "top_p": 1.0}
    one = backend.samples(PROMPT, seed=1, **draw)
    assert [g.text for g in backend.samples(PROMPT, seed=1, **draw)] == [g.text for g in one]
    other = backend.samples(PROMPT, seed=2, **draw)
    assert len(one) == len(other) == 4
    assert len({g.text for g in one + other}) > 1  # 8 draws of 24 tokens at temperature 1.5
    for g in one + other:
        assert "<eoc>" not in g.text and g.prompt_tokens == greedy.prompt_tokens
    again = fresh(backend, PROMPT, stop=("<eoc>",), n=24)
    assert (again.text, backend.temperature) == (greedy.text, 0.0)


def test_llama_cpp_ranks_the_nucleus_as_a_full_sort_does(backend: Any) -> None:
    if not backend.name.startswith("llama.cpp"):
        pytest.skip("the sorting shortcut is llama.cpp's sampler's")
    import numpy as np

    rng = np.random.default_rng(0)
    saved = backend.top_p
    try:
        for scale in (0.5, 3.0, 12.0):  # flat (the nucleus is most of the vocabulary) to peaked
            z = rng.standard_normal(backend._n_vocab) * scale
            probs = np.exp(z - z.max())
            probs /= probs.sum()
            full = np.argsort(-probs, kind="stable")
            for top_p in (0.5, 0.95, 1.0):
                backend.top_p = top_p
                order = backend._ranked(probs)
                mass = np.cumsum(probs[full]) - probs[full]
                keep = max(1, int((mass < top_p).sum()))
                assert (order[:keep] == full[:keep]).all(), (scale, top_p)
    finally:
        backend.top_p = saved


def test_samples_need_a_temperature(backend: Any) -> None:
    with pytest.raises(ValueError, match=r"temperature above 0.*alternatives\(\)"):
        backend.samples(PROMPT, stop=(), max_new_tokens=4, n=2, temperature=0.0)
    with pytest.raises(ValueError, match="n >= 1"):
        backend.samples(PROMPT, stop=(), max_new_tokens=4, n=0, temperature=0.7)


# -- batches --------------------------------------------------------------------------------------


def test_a_batch_writes_the_commands_line_a_stream_writes(backend: Any) -> None:
    from agent.dispatch import capabilities
    from moss_core.protocol import build_meta_instruction, render_prompt
    from plugins import default_registry

    # Whole phase-1 prompts, as the Agent writes them: they share the system text.
    meta = build_meta_instruction(capabilities(default_registry()), "short")
    prompts = [
        render_prompt(meta, [], question)
        for question in (
            "What is 4/7?",
            "What is 12 times 13?",
            "Solve 3x + 4 = 19 for x.",
            "Who wrote Hamlet?",
        )
    ]
    gens = backend.generate_batch(prompts, stop=("<eoc>",), max_new_tokens=64)
    assert len(gens) == len(prompts)
    differ = []
    for prompt, gen in zip(prompts, gens, strict=True):
        alone = fresh(backend, prompt, stop=("<eoc>",), n=64)
        assert gen.stop == alone.stop == "<eoc>"
        if commands_line(gen.text) != commands_line(alone.text):
            differ.append((commands_line(gen.text), commands_line(alone.text)))
        assert gen.prompt_tokens == alone.prompt_tokens
    # A batch multiplies several rows at once, in other kernels, so a greedy near-tie may fall
    # the other way (the shipped adapter on llama.cpp: 'Search("Hamlet written by")' against
    # 'Search("Hamlet written")'); a batch that mixed up its rows would differ everywhere.
    assert len(differ) <= 1, differ
    # The shared prefix is counted once: less was encoded than the prompts hold.
    assert sum(g.prefill_tokens for g in gens) < sum(g.prompt_tokens for g in gens)
    assert backend.generate_batch([], stop=(), max_new_tokens=4) == []


def commands_line(text: str) -> str:
    return text.rpartition("<|Commands|>:")[2].strip()


# -- grammar-constrained decoding ---------------------------------------------------------------

META = (
    "You are MOSS, a helpful assistant. Think first, then write a Commands line that calls the "
    "tools you need, or None, then answer using the results.\n"
    "Capabilities and tools that MOSS can possess.\n- Inner thoughts: enabled.\n"
    "- Calculator: enabled. API: Calculate(expression)\n"
)
# Questions the shipped adapter answers with a search, a word in Calculate, or a story sent to
# Solve when it writes freely; held to Calculate alone, every line must still parse.
HARD = (
    "Mix red and white paint: what colour do I get?",
    "What is 19.60 times 40?",
    "Who painted the Mona Lisa?",
    "Sandy grew 51 pumpkins and Mike grew 23. How many did they grow?",
)


def _calculate_only() -> str:
    from agent.grammar import phase1_grammar
    from plugins import default_registry

    registry = default_registry()
    registry.disable("Search")
    registry.disable("Solve")
    return phase1_grammar(registry.enabled(), 2)


def _checked(text: str) -> list[str]:
    """The calls of a constrained phase-1 text, after checking it parses cleanly."""
    from moss_core.protocol import parse_phase1
    from plugins.calculator import evaluate

    phase1 = parse_phase1(text)
    assert not phase1.problems and not phase1.parsed.errors, text
    for call in phase1.parsed.calls:
        assert call.name == "Calculate", text
        try:
            evaluate(call.argument)
        except ValueError as error:  # a value the calculator refuses, never a form
            assert "zero" in str(error) or "large" in str(error), (call.argument, error)
    return [c.render() for c in phase1.parsed.calls]


def _prompt(question: str) -> str:
    return f"{META}<|Human|>: {question}<eoh>\n<|Inner Thoughts|>:"


def test_a_constrained_stream_always_parses_and_calls_only_enabled_tools(backend: Any) -> None:
    grammar = _calculate_only()
    for question in HARD:
        gen = run_stream(
            backend.stream(_prompt(question), stop=("<eoc>",), max_new_tokens=96, grammar=grammar)
        )
        assert gen.stop == "<eoc>", gen.text
        _checked(gen.text)


def test_the_grammar_leaves_a_line_that_fits_it_as_it_was(backend: Any) -> None:
    prompt = _prompt("What is 4/7?")
    free = run_stream(backend.stream(prompt, stop=("<eoc>",), max_new_tokens=48))
    held = run_stream(
        backend.stream(prompt, stop=("<eoc>",), max_new_tokens=48, grammar=_calculate_only())
    )
    assert _checked(held.text) == ['Calculate("4/7")'] and held.text == free.text


def test_a_constrained_batch_holds_every_row(backend: Any) -> None:
    gens = backend.generate_batch(
        [_prompt(q) for q in HARD], stop=("<eoc>",), max_new_tokens=96, grammar=_calculate_only()
    )
    for gen in gens:
        assert gen.stop == "<eoc>", gen.text
        _checked(gen.text)


def test_constrained_samples_all_parse(backend: Any) -> None:
    gens = backend.samples(
        _prompt(HARD[1]), stop=("<eoc>",), max_new_tokens=96, n=4, temperature=1.0,
        grammar=_calculate_only(),
    )  # fmt: skip
    assert len(gens) == 4
    for gen in gens:
        assert gen.stop == "<eoc>", gen.text
        _checked(gen.text)


def test_constrained_alternatives_all_parse(backend: Any) -> None:
    gens = backend.alternatives(
        _prompt(HARD[1]), stop=("<eoc>",), max_new_tokens=96, n=4, grammar=_calculate_only()
    )
    assert gens  # llama.cpp: 4 held beams; transformers: the beams the grammar admits
    if backend.name.startswith("llama.cpp"):
        assert len(gens) == 4
    for gen in gens:
        _checked(gen.text)
