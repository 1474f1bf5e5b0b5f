"""The Agent on the real embedded model (SmolLM2-135M-Instruct, and the shipped adapter when
there is one): the turn structure holds and the KV cache does its job inside the loop.

What the model says is the evaluation's business (tests/test_evaluate.py); here only facts
that must hold whatever it says.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from agent import Agent, Token, TurnDone, chat_batch
from agent.backends.transformers import TransformersBackend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def agent() -> Agent:
    try:
        return Agent.default(device="cpu", max_thought_tokens=48, max_reply_tokens=48)
    except Exception as exc:  # offline with nothing cached: models.py says what to run
        pytest.skip(f"default model unavailable: {exc}")


def test_two_turns_keep_the_format_and_reuse_the_cache(agent: Agent, tmp_path: Path) -> None:
    agent.reset()
    first = agent.chat("What is 12 times 11?")
    events = list(agent.stream("Thanks! And what is that minus 2?"))
    second = events[-1].turn if isinstance(events[-1], TurnDone) else None
    assert second is not None
    assert any(isinstance(e, Token) and e.phase == "reply" for e in events) or not second.reply
    for turn in (first, second):
        # Phase 2 encodes only what the program appended (Commands, Results, markers), never
        # the prompt phase 1 already encoded.
        appended = agent.backend.count_tokens(
            f"<|Commands|>: {turn.commands_text}<eoc>\n<|Results|>:\n{turn.results_text}\n"
            "<eor>\n<|MOSS|>:"
        )
        assert turn.reply_stats.prefill_tokens <= appended + 8
        assert turn.reply_stats.prompt_tokens > turn.thoughts_stats.prompt_tokens
    # Turn 2 does not re-encode turn 1.
    assert second.thoughts_stats.prefill_tokens < 80
    assert second.thoughts_stats.prompt_tokens > first.reply_stats.prompt_tokens
    transcript = agent.transcript()
    assert transcript.count("<|Human|>:") == 2 and transcript.count("<eom>") == 2
    agent.save(tmp_path / "c.json")
    restored = Agent.load(tmp_path / "c.json", agent.backend)
    assert restored.transcript() == transcript


def test_the_backend_is_llama_cpp_where_it_is_installed(agent: Agent) -> None:
    from agent.engine import llama_cpp_installed

    if llama_cpp_installed():
        from agent.backends.llamacpp import LlamaCppBackend

        assert isinstance(agent.backend, LlamaCppBackend)
    else:
        assert isinstance(agent.backend, TransformersBackend)
    assert agent.backend.context_length >= 2048


def test_a_batch_of_turns_matches_the_turns_run_one_by_one(agent: Agent) -> None:
    questions = [
        "What is 12 times 11?",
        "hello!",
        "Solve 3x + 5 = 20",
        "Who designed the Eiffel Tower?",
        "What's 15% of 80?",
    ]
    alone = []
    for q in questions:
        agent.reset()
        alone.append(agent.chat(q))
    agent.reset()
    batched = chat_batch([agent.copy(history=False) for _ in questions], questions)

    def seen(t: object) -> tuple[str, ...]:
        return (t.commands_text, t.results_text)  # type: ignore[attr-defined]

    # A batch multiplies several rows at once, in other kernels (and, on transformers, with
    # padding), so a near-tie may fall the other way: in a free-text reply that is expected,
    # in the Commands line at most once.
    same = [seen(a) == seen(b) for a, b in zip(alone, batched, strict=True)]
    assert sum(same) >= len(questions) - 1
    # The meta-instruction the turns share was encoded once, not once per turn.
    shared = [t.thoughts_stats.prompt_tokens - t.thoughts_stats.prefill_tokens for t in batched]
    assert len(set(shared)) == 1 and shared[0] > 50


def test_the_demo_loads_what_the_chat_flags_load() -> None:
    # `moss-agent demo` takes the model flags of `chat` and builds the same Agent: an adapter
    # given with a model folder is prompted with the preset it was trained with (the demo
    # used MOSS's long text for any named model), and --alternatives / --base-only reach it.
    from agent.models import default_model_path
    from agent.shipped import ADAPTER_DIR, adapter_preset
    from demo.app import add_demo_arguments
    from demo.session import default_agent_factory

    parser = argparse.ArgumentParser()
    add_demo_arguments(parser)
    args = parser.parse_args(["--base-only", "--alternatives", "0", "--corpus", "notes/"])
    assert (args.base_only, args.alternatives, args.corpus) == (True, 0, ["notes/"])
    try:
        model = str(default_model_path())
    except Exception as exc:
        pytest.skip(f"default model unavailable: {exc}")

    tuned = default_agent_factory(model, str(ADAPTER_DIR), "cpu", alternatives=2)()
    assert tuned.preset == adapter_preset(ADAPTER_DIR) == "short"
    assert tuned.alternatives == 2
    assert tuned.backend.name.endswith("+default")
    base = default_agent_factory(device="cpu", base_only=True, alternatives=0)()
    assert (base.preset, base.alternatives) == ("short", 0)
    assert "+" not in base.backend.name
