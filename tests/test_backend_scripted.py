"""The scripted backend: deterministic playback that the Agent loop tests rely on."""

from __future__ import annotations

import pytest

from agent.backends.base import Backend, run_stream
from agent.backends.scripted import FailAfter, ScriptedBackend, scripted_tokens
from moss_core.errors import BackendError


def test_is_a_backend() -> None:
    assert isinstance(ScriptedBackend(), Backend)


def test_streams_small_pieces_that_join_to_the_reply() -> None:
    backend = ScriptedBackend([" I should calculate 4/7 with the calculator."])
    pieces: list[str] = []
    result = run_stream(backend.stream("p", stop=[], max_new_tokens=100), pieces.append)
    assert len(pieces) > 5
    assert "".join(pieces) == result.text == " I should calculate 4/7 with the calculator."
    assert result.stop is None
    assert result.completion_tokens == len(scripted_tokens(result.text))


def test_cuts_at_the_first_stop_and_discards_the_rest() -> None:
    backend = ScriptedBackend([' Calculate("4/7")<eoc> junk<eom> more'])
    pieces: list[str] = []
    result = run_stream(
        backend.stream("p", stop=["<eom>", "<eoc>"], max_new_tokens=100), pieces.append
    )
    assert result.text == ' Calculate("4/7")'
    assert result.stop == "<eoc>"
    assert "".join(pieces) == result.text
    assert not any("<" in p for p in pieces)  # no part of a stop string is ever shown


def test_max_new_tokens_truncates_without_a_stop() -> None:
    backend = ScriptedBackend(["one two three four five<eom>"])
    result = run_stream(backend.stream("p", stop=["<eom>"], max_new_tokens=2))
    assert result.text == "one two"
    assert result.stop is None
    assert result.completion_tokens == 2


def test_records_prompts_and_stops_in_order() -> None:
    backend = ScriptedBackend(["a", "b"])
    run_stream(backend.stream("first", stop=["<eot>"], max_new_tokens=5))
    run_stream(backend.stream("second", stop=["<eoc>", "<eom>"], max_new_tokens=5))
    assert backend.prompts == ["first", "second"]
    assert backend.stops == [["<eot>"], ["<eoc>", "<eom>"]]
    assert backend.remaining == 0


def test_token_counts() -> None:
    backend = ScriptedBackend(["0.5714<eom>"])
    result = run_stream(backend.stream("What is 4/7?", stop=["<eom>"], max_new_tokens=10))
    assert result.prompt_tokens == result.prefill_tokens == backend.count_tokens("What is 4/7?")
    assert backend.count_tokens("What is 4/7?") == 3
    assert backend.count_tokens("") == 0
    assert "".join(scripted_tokens(" a  bcdefgh \n")) == " a  bcdefgh \n"


def test_empty_script_raises_a_backend_error_that_says_how_to_fix_it() -> None:
    backend = ScriptedBackend(["only one"])
    run_stream(backend.stream("p", stop=[], max_new_tokens=5))
    with pytest.raises(BackendError, match="enqueue"):
        run_stream(backend.stream("p", stop=[], max_new_tokens=5))


def test_enqueue_adds_replies_after_construction() -> None:
    backend = ScriptedBackend()
    backend.enqueue("later")
    assert run_stream(backend.stream("p", stop=[], max_new_tokens=5)).text == "later"


def test_scripted_exception_is_raised_when_the_stream_is_iterated() -> None:
    backend = ScriptedBackend([BackendError("server died"), "after"])
    stream = backend.stream("p", stop=[], max_new_tokens=5)  # lazy, like a real backend
    with pytest.raises(BackendError, match="server died"):
        next(stream)
    # The script goes on after the failure, so a retry can be tested.
    assert run_stream(backend.stream("p", stop=[], max_new_tokens=5)).text == "after"


def test_fail_after_streams_partial_text_then_raises() -> None:
    backend = ScriptedBackend([FailAfter("half an ans", ConnectionError("lost"))])
    pieces: list[str] = []
    with pytest.raises(ConnectionError, match="lost"):
        run_stream(backend.stream("p", stop=[], max_new_tokens=50), pieces.append)
    assert "".join(pieces) == "half an ans"
