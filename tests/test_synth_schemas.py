"""One- and two-step word problems by schema (the ``steps`` kind): checked values, the share of
one-step problems, unneeded numbers, and held-out names kept out of training."""

from __future__ import annotations

import random
import re
from collections import Counter

from finetune.synth import stories
from finetune.synth.entities import pools
from finetune.synth.generate import iter_conversations, parse_mix
from finetune.synth.schemas import _PEOPLE, _THINGS, ONE_STEP, STEPS, TWO_STEP
from plugins.calculator import evaluate


def _draws(split: str, n: int = 300) -> list:
    rng = random.Random(5)
    out = []
    for i in range(n):
        fam = STEPS[i % len(STEPS)]
        out.append(fam.sample(rng, pools(split), split))  # type: ignore[arg-type]
    return out


def test_each_problem_computes_what_it_says_with_one_op_word_per_step() -> None:
    for s in _draws("train"):
        (call,) = s.calls
        assert call.name == "Calculate"
        assert float(evaluate(call.argument)) == s.expected[0]
        assert any(a in s.reply for a in s.answers), s.reply
        op = s.thoughts.split(":", 1)[0]
        assert op in {"Add", "Subtract", "Multiply", "Divide"}
        assert call.argument in s.thoughts  # the thought builds the expression it calls


def test_every_number_of_the_expression_is_written_in_the_question_as_often() -> None:
    for s in _draws("train"):
        asked = stories.numbers_in(s.human)
        used = stories.numbers_in(s.calls[0].argument)
        assert all(used[n] <= asked[n] for n in used), (s.human, s.calls[0].argument)


def test_one_step_problems_outnumber_two_step_ones_four_to_one() -> None:
    kinds = Counter()
    convs = iter_conversations(400, seed=3, mix=parse_mix("Calculate=0,Solve=0,Search=0,none=0,"
                               "disabled=0,multi=0,pair=0,steps=1"))  # fmt: skip
    for conv in convs:
        (sample,) = conv.samples
        kinds["two" if sample.template.startswith("step2.") else "one"] += 1
    assert kinds["one"] + kinds["two"] == 400
    assert 0.72 < kinds["one"] / 400 < 0.88
    assert len(ONE_STEP) == 4 * len(TWO_STEP)


def test_about_a_third_carry_a_number_the_question_does_not_need() -> None:
    draws = _draws("train", 600)
    extra = sum(
        bool(set(stories.numbers_in(s.human)) - set(stories.numbers_in(s.calls[0].argument)))
        for s in draws
    )
    assert 0.2 < extra / len(draws) < 0.45


def test_held_out_problems_use_only_held_out_names_and_things() -> None:
    train_words = set(_PEOPLE["train"]) | {t.many for t in _THINGS["train"]}
    for s in _draws("heldout"):
        assert not {w for w in train_words if re.search(rf"\b{re.escape(w)}\b", s.human)}, s.human
    assert not set(_PEOPLE["train"]) & set(_PEOPLE["heldout"])
