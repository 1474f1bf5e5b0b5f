"""Word problems written by people (GSM8K-style records) as checked Calculate turns.

The records here are written for these tests in GSM8K's format; the last tests read the real
GSM8K training file in ``../shared/benchmarks`` when it is there. Every value is checked by
the real calculator plugin.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from finetune.data import read_conversations
from finetune.synth import add_synth_arguments, run_synth
from finetune.synth.generate import Runner, iter_conversations, parse_mix
from finetune.synth.stories import (
    StoryError,
    given,
    held_out,
    load,
    load_file,
    numbers_in,
    to_sample,
)
from plugins.calculator import evaluate

GSM8K_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "gsm8k_train.jsonl"

BAKERY = {
    "id": "t-bakery",
    "query": "A baker makes 36 rolls in the morning and twice as many in the afternoon. "
    "She sells 50 of them. How many rolls are left?",
    "value": 58,
    "solution": "In the afternoon she makes 36*2 = <<36*2=72>>72 rolls.\n"
    "Altogether she makes 36+72 = <<36+72=108>>108 rolls.\n"
    "She has 108-50 = $<<108-50=58>>58 rolls left.\n#### 58",
}


def record(**fields: object) -> dict[str, object]:
    return {**BAKERY, **fields}


def test_steps_fold_into_one_expression_that_uses_the_storys_numbers() -> None:
    sample = to_sample(BAKERY)
    assert sample.calls[0].name == "Calculate"
    assert sample.calls[0].argument == "36+36*2-50"  # brackets only where precedence needs
    assert evaluate(sample.calls[0].argument) == 58
    assert sample.tool == "Calculate" and sample.expected == [58.0] and sample.answers == ["58"]


def test_thoughts_name_each_operation_and_state_no_computed_number() -> None:
    thoughts = to_sample(BAKERY).thoughts
    assert thoughts.startswith("Multiply: In the afternoon she makes 36*2 rolls.")
    assert "Add: Altogether she makes 36+36*2 rolls." in thoughts
    assert "Subtract:" in thoughts
    # 72 and 108 are the calculator's to find: the thoughts carry their expressions instead.
    assert not {72.0, 108.0} & set(numbers_in(thoughts))


def test_reply_is_the_last_sentence_with_the_answer_in_place_of_its_working() -> None:
    assert to_sample(BAKERY).reply == "She has $58 rolls left."


def test_reply_falls_back_when_the_last_sentence_repeats_the_answer() -> None:
    solution = BAKERY["solution"].replace(  # type: ignore[attr-defined]
        "She has 108-50 = $<<108-50=58>>58 rolls left.",
        "Since 108-50 = <<108-50=58>>58, she has 58 rolls left.",
    )
    assert to_sample(record(solution=solution)).reply == "The answer is 58."


def test_a_result_mentioned_in_prose_is_restated_as_its_expression() -> None:
    solution = "Each box holds 6*4 = <<6*4=24>>24 eggs.\nWith 24 eggs a box, 5 boxes hold " \
        "24*5 = <<24*5=120>>120 eggs.\n#### 120"  # fmt: skip
    sample = to_sample({"id": "t", "query": "A box has 6 rows of 4 eggs. How many eggs are "
                        "in 5 boxes?", "value": 120, "solution": solution})  # fmt: skip
    assert sample.calls[0].argument == "6*4*5"
    assert "With 6*4 eggs a box, 5 boxes hold 6*4*5 eggs." in sample.thoughts


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"value": 59}, "no step gives the reference answer"),
        ({"solution": "She has 58 rolls left.\n#### 58"}, "no calculator step"),
        ({"query": "A baker has some rolls. How many are left?"}, "a number the question does"),
        ({"solution": "So <<36 ** 2=1296>>1296.\n#### 1296", "value": 1296}, "not arithmetic"),
        ({"solution": "So 36*2 = <<36*2=71>>71.\n#### 71", "value": 71}, "does not follow"),
    ],
)
def test_a_problem_that_cannot_be_checked_says_why(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(StoryError, match=reason):
        to_sample(record(**fields))


def test_step_cap() -> None:
    with pytest.raises(StoryError, match="more than 2 calculator steps"):
        to_sample(BAKERY, max_steps=2)
    assert to_sample(BAKERY, max_steps=3)


EGGS = {
    "id": "t-eggs",
    "query": "Shirley has 98 eggs. She buys 8 more, then gives 8 to Tom. How many now?",
    "value": 98,
    "solution": "She has 98+8 = <<98+8=106>>106 eggs.\nThen 106-8 = <<106-8=98>>98 eggs.\n#### 98",
}


# The same problem with 8 written once: its fold 98+8-8 uses 8 twice.
EGGS_ONCE = dict(EGGS, query="Shirley has 98 eggs. She buys 8 more and gives that many away.")


def test_single_use_drops_a_fold_that_repeats_a_number_the_question_writes_once() -> None:
    # Written twice in the question, 8 may appear twice in the fold.
    assert to_sample(EGGS, single_use=True).calls[0].argument == "98+8-8"
    assert to_sample(EGGS_ONCE).calls[0].argument == "98+8-8"  # off by default
    with pytest.raises(StoryError, match="uses a number more often than the question"):
        to_sample(EGGS_ONCE, single_use=True)
    # "the same" asks for the repeat, as the Agent's grounding reads it.
    same = dict(EGGS, query="Shirley has 98 eggs. She buys 8 more and gives the same number away.")
    assert to_sample(same, single_use=True).calls[0].argument == "98+8-8"
    loaded = load([json.dumps(dict(EGGS_ONCE, id=f"t-{i}")) for i in range(40)], single_use=True)
    assert not loaded.samples
    assert loaded.dropped["the folded expression uses a number more often than the question"] > 0


def test_given_reads_digits_words_and_percentages() -> None:
    assert given("Half of a dozen eggs, 25% off, $1,200.50")[0.25] == 1
    assert given("Half of a dozen eggs")[12.0] == 1
    assert given("4,817 and twenty")[4817.0] == given("4,817 and twenty")[20.0] == 1


def test_load_counts_every_problem_it_drops_and_every_line_it_skips() -> None:
    ids = [f"t-{i}" for i in range(60)]
    lines = [json.dumps(record(id=i)) for i in ids]
    lines += [json.dumps(record(id="t-bad", value=1)), "not json", json.dumps({"id": "x"}), "[1]"]
    train, heldout = load(lines, "train"), load(lines, "heldout")
    assert len(train.samples) + len(heldout.samples) == 60
    assert len(heldout.samples) == sum(held_out(i) for i in ids) > 0
    assert train.dropped["no step gives the reference answer"] == (not held_out("t-bad"))
    assert train.malformed == {"not a JSON object": 2, "no query, value, solution": 1}
    assert "1 lines skipped: no query, value, solution" in train.summary()


def test_an_unreadable_file_is_a_story_error(tmp_path: Path) -> None:
    with pytest.raises(StoryError, match="cannot read word problems"):
        load_file(tmp_path / "missing.jsonl")


def test_story_kind_comes_after_the_older_kinds_and_is_off_by_default() -> None:
    from finetune.synth.generate import MIX, generate

    # Only the steps kind, added after it, follows it.
    assert list(MIX)[-2:] == ["story", "steps"] and MIX["story"] == MIX["steps"] == 0
    assert generate(20, seed=5, mix={"story": 0.0, "steps": 0.0}) == generate(20, seed=5)


def test_story_kind_deals_each_problem_once_before_any_twice() -> None:
    samples = [to_sample(record(id=f"t-{i}", query=BAKERY["query"] + f" ({i})")) for i in range(5)]
    mix = parse_mix("Calculate=0,Solve=0,Search=0,none=0,disabled=0,multi=0,pair=0,story=1")
    convs = list(iter_conversations(10, 3, "train", mix, samples))
    humans = [c.exchanges[0].human for c in convs]
    assert sorted(humans[:5]) == sorted(s.human for s in samples)
    assert humans[5:] == humans[:5]
    assert convs[0].exchanges[0].results == f"{convs[0].exchanges[0].commands} => '58'"
    with pytest.raises(ValueError, match="--stories FILE"):
        next(iter_conversations(1, 0, "train", mix))


def test_synth_cli_writes_story_conversations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "problems.jsonl"
    source.write_text("\n".join(json.dumps(record(id=f"t-{i}")) for i in range(40)) + "\nnope\n")
    out = tmp_path / "out.jsonl"
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    argv = ["--n", "6", "--mix", "story=1,Calculate=0", "--stories", str(source), "--out", str(out)]
    assert run_synth(parser.parse_args(argv)) == 0
    printed = capsys.readouterr().out
    assert "1 lines skipped: not a JSON object" in printed and "story " in printed
    convs = read_conversations(out)
    assert len(convs) == 6
    assert sum(c.exchanges[0].commands.startswith("Calculate(") for c in convs) >= 1
    repeats = tmp_path / "repeats.jsonl"
    repeats.write_text("\n".join(json.dumps(dict(EGGS_ONCE, id=f"t-{i}")) for i in range(40)))
    argv[argv.index(str(source))] = str(repeats)
    assert run_synth(parser.parse_args(argv)) == 0  # off by default: kept
    assert run_synth(parser.parse_args([*argv, "--story-single-use"])) == 2
    captured = capsys.readouterr()
    assert "uses a number more often than the question" in captured.out
    assert "no word problem of" in captured.err and "--story-single-use" in captured.err
    missing = parser.parse_args(["--n", "2", "--mix", "story=1", "--out", str(out)])
    assert run_synth(missing) == 2
    assert "--stories FILE" in capsys.readouterr().err


@pytest.mark.skipif(not GSM8K_TRAIN.exists(), reason="no ../shared/benchmarks/gsm8k_train.jsonl")
def test_real_gsm8k_problems_become_checked_turns() -> None:
    loaded = load_file(GSM8K_TRAIN, "train", max_steps=2)
    heldout = load_file(GSM8K_TRAIN, "heldout", max_steps=2)
    assert len(loaded.samples) > 1500 and len(heldout.samples) > 50
    assert not {s.human for s in loaded.samples} & {s.human for s in heldout.samples}
    assert not loaded.malformed
    runner = Runner("train")
    for sample in loaded.samples[:300]:  # the real calculator gives the reference answer
        runner.results(sample)
    for sample in loaded.samples:
        asked = given(sample.human)
        constants = {0.5, 1, 2, 3, 4, 7, 10, 12, 24, 30, 52, 60, 100, 365, 1000, 0.01, 0.1}
        assert all(asked[n] or n in constants for n in numbers_in(sample.calls[0].argument))
