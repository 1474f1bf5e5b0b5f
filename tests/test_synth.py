"""The synthetic data generator: deterministic, split-disjoint, and consistent with the plugins.

Every check runs the real Calculate, Solve and Search plugins; nothing is mocked.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
from fractions import Fraction
from pathlib import Path

import pytest

from agent.dispatch import Dispatcher
from finetune.data import read_conversations
from finetune.synth import (
    SynthConversation,
    add_synth_arguments,
    all_families,
    builtin_registry,
    generate,
    meta_instruction,
    parse_mix,
    run_synth,
)
from finetune.synth.base import Sample
from finetune.synth.corpus import documents, entities
from finetune.synth.entities import pools
from finetune.synth.evalcases import ASSETS, PER_TOOL, asset_texts
from finetune.synth.generate import Runner
from finetune.synth.numfmt import accepted_answers, say
from finetune.synth.templates_chat import CREATIVE_TOPICS
from moss_core.protocol import (
    Exchange,
    format_results,
    parse_commands,
    parse_conversation,
    render_exchange,
)
from plugins.calculator import evaluate as calculate

N = 160  # conversations per split: every kind of conversation appears several times


@pytest.fixture(scope="module")
def train() -> list[SynthConversation]:
    return [c for c in generate(N, seed=11, split="train") if isinstance(c, SynthConversation)]


@pytest.fixture(scope="module")
def heldout() -> list[SynthConversation]:
    return [c for c in generate(N, seed=11, split="heldout") if isinstance(c, SynthConversation)]


def rendered(convs: list[SynthConversation]) -> list[str]:
    return [c.meta_instruction + "".join(render_exchange(e) for e in c.exchanges) for c in convs]


def turns(convs: list[SynthConversation]) -> list[tuple[SynthConversation, Sample, Exchange]]:
    return [(c, s, e) for c in convs for s, e in zip(c.samples, c.exchanges, strict=True)]


def template_ids(sample: Sample) -> list[str]:
    return sample.template.removeprefix("off:").split("+")


# -- determinism --------------------------------------------------------------------------------


def test_same_seed_same_conversations(train: list[SynthConversation]) -> None:
    again = generate(N, seed=11, split="train")
    assert rendered(train) == rendered(again)  # type: ignore[arg-type]


def test_other_seed_other_conversations(train: list[SynthConversation]) -> None:
    other = generate(20, seed=12, split="train")
    assert rendered(train[:20]) != rendered(other)  # type: ignore[arg-type]


def test_a_prefix_is_the_smaller_run(train: list[SynthConversation]) -> None:
    assert rendered(generate(25, seed=11, split="train")) == rendered(train[:25])  # type: ignore[arg-type]


# -- held-out split ------------------------------------------------------------------------------


def test_families_have_disjoint_phrasings() -> None:
    for fam in all_families():
        assert fam.train and fam.heldout, fam.name
        shown = {repr(p) for p in fam.train} & {repr(p) for p in fam.heldout}
        # "{q}": the questions themselves are split
        if fam.name not in ("chat.advice", "chat.concept", "chat.numbers", "chat.place_news"):
            assert not shown, f"{fam.name} shares phrasings: {shown}"


def test_entity_pools_are_disjoint() -> None:
    assert not pools("train").strings() & pools("heldout").strings()
    assert not {e.name for e in entities("train")} & {e.name for e in entities("heldout")}
    assert not {d.id for d in documents("train")} & {d.id for d in documents("heldout")}
    assert not set(CREATIVE_TOPICS["train"]) & set(CREATIVE_TOPICS["heldout"])


def test_generated_splits_share_no_template_or_entity(
    train: list[SynthConversation], heldout: list[SynthConversation]
) -> None:
    for split, convs in (("train", train), ("heldout", heldout)):
        for _, sample, _ in turns(convs):
            assert all(f"/{split}/" in t for t in template_ids(sample)), sample.template
    train_entities = {e for _, s, _ in turns(train) for e in s.entities}
    heldout_entities = {e for _, s, _ in turns(heldout) for e in s.entities}
    assert train_entities and heldout_entities
    assert not train_entities & heldout_entities


# -- every turn is consistent with the protocol and the plugins ----------------------------------


def test_every_commands_line_parses_back_to_the_calls(train: list[SynthConversation]) -> None:
    for _, sample, ex in turns(train):
        parsed = parse_commands(ex.commands)
        assert not parsed.errors, ex.commands
        assert parsed.calls == sample.calls
        assert parsed.is_none == (not sample.calls)


def test_conversations_render_and_parse_back(train: list[SynthConversation]) -> None:
    for conv, text in zip(train, rendered(train), strict=True):
        back = parse_conversation(text)
        assert not back.problems
        assert back.meta_instruction == conv.meta_instruction
        assert back.exchanges == conv.exchanges


def test_calculate_arguments_evaluate_to_what_thoughts_and_reply_claim(
    train: list[SynthConversation], heldout: list[SynthConversation]
) -> None:
    seen = 0
    for _, sample, ex in turns(train) + turns(heldout):
        for call, expected in zip(sample.calls, sample.expected, strict=True):
            if call.name != "Calculate":
                continue
            seen += 1
            assert isinstance(expected, float)
            value = float(calculate(call.argument))
            assert math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-9), call
            assert not re.search(r"\d,\d{3}", call.argument), (
                "thousands separator in " + call.argument
            )
            assert call.argument in sample.thoughts, (call.argument, sample.thoughts)
            stated = {say(value), say(value, money_places=True), str(round(value)), say(abs(value))}
            assert any(s in ex.reply for s in stated), (ex.reply, value)
            assert any(a in accepted_answers(value) or a in stated for a in sample.answers)
    assert seen > N // 2


def test_solve_arguments_carry_every_equation(
    train: list[SynthConversation], heldout: list[SynthConversation]
) -> None:
    systems = 0
    for _, sample, ex in turns(train) + turns(heldout):
        for call, expected in zip(sample.calls, sample.expected, strict=True):
            if call.name != "Solve":
                continue
            assert isinstance(expected, dict)
            assert len(call.argument.split(";")) == len(expected), call
            assert " " not in call.argument and "\n" not in call.argument
            assert call.argument in sample.thoughts or all(
                eq in sample.thoughts for eq in call.argument.split(";")
            )
            systems += len(expected) > 1
            shown = dict(line.split(" = ") for line in ex.results.splitlines()[1:])
            assert shown.keys() == expected.keys()
            for name, value in expected.items():
                assert math.isclose(float(Fraction(shown[name])), value, rel_tol=1e-12)
    assert systems > 5


def test_search_replies_state_a_fact_from_the_snippets(train: list[SynthConversation]) -> None:
    searched = 0
    for _, sample, ex in turns(train):
        for call, expected in zip(sample.calls, sample.expected, strict=True):
            if call.name == "Search":
                searched += 1
                assert isinstance(expected, str)
                assert expected in ex.results and expected in ex.reply
    assert searched > 10


def test_results_text_is_what_the_dispatcher_produces(train: list[SynthConversation]) -> None:
    # A fresh dispatcher over the same corpus, independent of the generator's Runner.
    from plugins import search
    from plugins.search import Hit, LocalIndex

    index = LocalIndex()
    index.add_many(Hit(d.id, d.title, d.text) for d in documents("train"))
    dispatcher = Dispatcher(builtin_registry())
    search.configure(backend=index)
    try:
        for _, _, ex in turns(train):
            calls = parse_commands(ex.commands).calls
            assert format_results(dispatcher.run(calls)) == ex.results
    finally:
        search.configure()


def test_mix_covers_every_kind(train: list[SynthConversation]) -> None:
    tools = {s.tool for c in train for s in c.samples}
    assert tools == {"Calculate", "Solve", "Search", None}
    assert any(len(c.exchanges) > 1 for c in train), "no multi-turn conversation"
    assert any(s.template.startswith("follow.") for c in train for s in c.samples)
    assert any(len(s.calls) == 2 for c in train for s in c.samples), "no two-command turn"
    assert any(c.disabled for c in train)


def test_meta_instruction_is_the_short_preset_with_switches(train: list[SynthConversation]) -> None:
    full = meta_instruction()
    assert full.startswith("You are MOSS") and full.count("enabled. API") == 3
    for conv in train:
        assert conv.meta_instruction == meta_instruction(conv.disabled)
        for name in conv.disabled:
            # A switched-off tool is never called, in any turn of that conversation.
            assert all(call.name != name for s in conv.samples for call in s.calls)
    off = [c for c in train if c.disabled and not c.samples[0].calls]
    assert off and all("disabled" in c.samples[0].thoughts for c in off)


# -- files ----------------------------------------------------------------------------------------


def test_cli_writes_jsonl_that_finetune_data_reads(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    out = tmp_path / "synth.jsonl"
    corpus = tmp_path / "corpus.jsonl"
    args = parser.parse_args(
        ["--n", "12", "--seed", "3", "--out", str(out), "--corpus-out", str(corpus)]
    )
    assert run_synth(args) == 0
    back = read_conversations(out)
    made = generate(12, seed=3)
    assert [c.exchanges for c in back] == [c.exchanges for c in made]
    assert [c.meta_instruction for c in back] == [c.meta_instruction for c in made]
    assert len(corpus.read_text().splitlines()) == len(documents("train"))


def test_shopping_never_prices_an_item_at_zero() -> None:
    # Whole-dollar rounding once turned a $0.30 apple into "$0": a pointless sample for "total"
    # and "each", and a ZeroDivisionError for "how many can I buy" (`synth --seed 10` died).
    from finetune.synth.templates_calc import shopping

    drawn = 0
    for k in range(3000):
        try:
            sample = shopping.sample(random.Random(k), pools("train"), "train", None)
        except ValueError:  # a declined draw; the generator draws again
            continue
        drawn += 1
        assert not re.search(r"\$0(?![.\d])", sample.human), sample.human
    assert drawn > 2500


def test_mix_reweights_kinds_and_the_default_is_unchanged(tmp_path: Path) -> None:
    from finetune.synth.generate import MIX

    # Named kinds change, the others keep their share; no mix is the default mix exactly, which
    # is what keeps `make adapter`'s earlier stages reproducible after --mix was added.
    assert parse_mix("") == MIX
    assert generate(30, seed=5, mix=dict(MIX)) == generate(30, seed=5)
    # The Python API reads a mix as the flag does: unnamed kinds keep their share, typos fail.
    assert generate(30, seed=5, mix={"Calculate": MIX["Calculate"]}) == generate(30, seed=5)
    with pytest.raises(ValueError, match="unknown kind 'solve'"):
        generate(3, seed=5, mix={"solve": 1.0})
    only_solve = generate(20, seed=5, mix={k: float(k == "Solve") for k in MIX})
    assert all(
        len(c.samples) == 1 and c.samples[0].tool == "Solve" and not c.disabled
        for c in only_solve
        if isinstance(c, SynthConversation)
    )
    default = generate(30, seed=5)
    tilted = generate(30, seed=5, mix=parse_mix("Calculate=0.9"))
    calc = [sum(_tool(c) == "Calculate" for c in convs) for convs in (default, tilted)]
    assert calc[1] > calc[0]

    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    out = tmp_path / "solve.jsonl"
    args = parser.parse_args(["--n", "6", "--seed", "5", "--out", str(out), "--mix",
                              ",".join(f"{k}={int(k == 'Solve')}" for k in MIX)])  # fmt: skip
    assert run_synth(args) == 0
    assert all('Solve("' in c.exchanges[0].commands for c in read_conversations(out))
    for bad, fix in [
        ("solve=1", "the kinds are Calculate, Solve"),
        ("Solve", "KIND=SHARE"),
        ("Solve=lots", "not a number"),
        ("Solve=-1", ">= 0"),
        ("Solve=nan", ">= 0"),
        ("Calculate=0,Solve=0,Search=0,none=0,disabled=0,multi=0,pair=0", "positive share"),
    ]:
        with pytest.raises(ValueError, match=re.escape(fix)):
            parse_mix(bad)
    args = parser.parse_args(["--out", str(tmp_path / "x.jsonl"), "--mix", "Solve=-1"])
    assert run_synth(args) == 2
    assert not (tmp_path / "x.jsonl").exists()


def test_chat_kind_draws_the_wider_no_tool_families_and_is_off_by_default() -> None:
    from finetune.synth.generate import MIX
    from finetune.synth.templates_chat import FAMILIES, WIDER_FAMILIES

    # Last, with share 0: the one weighted draw per conversation then lands where it always did,
    # so every seed drawn before this kind existed (the shipped adapter's data) is unchanged.
    # (and every kind added after it is also 0, so it stays the last one drawn by default).
    kinds = list(MIX)
    assert all(MIX[k] == 0 for k in kinds[kinds.index("chat") :])
    assert all(MIX[k] > 0 for k in kinds[: kinds.index("chat")])
    assert generate(40, seed=5, mix={"chat": 0.0}) == generate(40, seed=5)
    only_chat = generate(80, seed=5, mix={k: float(k == "chat") for k in MIX})
    samples = [c.samples for c in only_chat if isinstance(c, SynthConversation)]
    assert len(samples) == 80 and all(len(s) == 1 and s[0].tool is None for s in samples)
    assert all(c.exchanges[0].commands == "None" for c in only_chat)
    new = {f.name for f in WIDER_FAMILIES} - {f.name for f in FAMILIES}
    drawn = {s[0].template.split("/", 1)[0] for s in samples}
    assert new == {"chat.term", "chat.numbers", "chat.place_news"} and new <= drawn
    assert drawn & {f.name for f in FAMILIES}, "the old families stay in the wider set"


def test_wide_kinds_draw_new_phrasings_of_the_same_calc_and_solve_skills() -> None:
    from finetune.synth import templates_paraphrase
    from finetune.synth.generate import MIX

    # After "chat" and 0 by default, for the same reason: earlier seeds draw as before.
    assert list(MIX)[list(MIX).index("chat") :][:3] == ["chat", "calc_wide", "solve_wide"]
    assert MIX["calc_wide"] == MIX["solve_wide"] == 0
    assert generate(40, seed=5, mix={"calc_wide": 0.0, "solve_wide": 0.0}) == generate(40, seed=5)
    for copy in templates_paraphrase.CALC + templates_paraphrase.SOLVE:
        base = copy.name.removesuffix(".wide")
        original = next(f for f in all_families() if f.name == base)
        # Same skill and same held-out pool; the train wordings are all new.
        assert copy.make is original.make and copy.heldout == original.heldout, base
        assert not {repr(p) for p in copy.train} & {repr(p) for p in original.train}, base
    for kind, tool in (("calc_wide", "Calculate"), ("solve_wide", "Solve")):
        # Generation runs every call through the real plugin and checks its value.
        convs = generate(120, seed=5, mix={k: float(k == kind) for k in MIX})
        samples = [s for c in convs if isinstance(c, SynthConversation) for s in c.samples]
        assert len(samples) == 120 and {s.tool for s in samples} == {tool}
        wide = {s.template.split("/")[0] for s in samples if ".wide/" in s.template}
        assert len(wide) >= (8 if tool == "Calculate" else 4), wide


def test_chat_wide_kind_adds_operation_and_method_questions_without_numbers() -> None:
    from finetune.synth import templates_explain
    from finetune.synth.generate import MIX
    from finetune.synth.templates_chat import WIDER_FAMILIES

    # After the earlier kinds and 0 by default: earlier seeds, the shipped adapter's among them,
    # draw as before.
    kinds = list(MIX)
    assert kinds.index("chat_wide") == kinds.index("solve_wide") + 1 and MIX["chat_wide"] == 0
    assert generate(40, seed=5, mix={"chat_wide": 0.0}) == generate(40, seed=5)
    convs = generate(150, seed=5, mix={k: float(k == "chat_wide") for k in MIX})
    samples = [s for c in convs if isinstance(c, SynthConversation) for s in c.samples]
    assert len(samples) == 150 and {s.tool for s in samples} == {None}
    assert all(c.exchanges[0].commands == "None" for c in convs)
    drawn = {s.template.split("/", 1)[0] for s in samples}
    assert {"chat.term.wide", "chat.operation", "chat.method"} <= drawn
    assert drawn & {f.name for f in WIDER_FAMILIES}, "the chat kind's families stay in"
    # The point of these: operation words with no numbers to work on.
    new = [s for s in samples if s.template.startswith(("chat.operation/", "chat.method/"))]
    assert new and not any(ch.isdigit() for s in new for ch in s.human)
    # No held-out concept, or a held-out frame of chat.term, is taught here.
    taught = " ".join(s.human.lower() for s in samples)
    for concept in ("square root", "factorial", "ratio", "denominator", "polygon"):
        assert not re.search(rf"\b{concept}\b", taught), concept
    assert not set(templates_explain.term.train) & set(templates_explain.term.heldout)


def test_contrast_kind_puts_the_same_operation_on_both_sides_of_the_tool_boundary() -> None:
    from finetune.synth import templates_explain
    from finetune.synth.generate import MIX

    kinds = list(MIX)
    assert kinds.index("contrast") == kinds.index("chat_wide") + 1 and MIX["contrast"] == 0
    assert generate(40, seed=5, mix={"contrast": 0.0}) == generate(40, seed=5)
    convs = generate(60, seed=5, mix={k: float(k == "contrast") for k in MIX})
    orders = set()
    for conv in convs:
        assert isinstance(conv, SynthConversation) and len(conv.samples) == 2
        explain = next(s for s in conv.samples if s.tool is None)
        work = next(s for s in conv.samples if s.tool is not None)
        assert explain.template.startswith(("chat.operation/", "chat.method/"))
        assert work.tool in ("Calculate", "Solve") and work.calls
        related = explain.info["related"]
        if related is not None:  # the worked turn computes what the question asked about
            assert work.template.split("/")[0] in (related, f"{related}.wide"), work.template
        # Played as a model should: Commands None for the question, the tool for the other.
        commands = [e.commands for e in conv.exchanges]
        assert commands[conv.samples.index(explain)] == "None"
        assert commands[conv.samples.index(work)].startswith(work.tool)
        orders.add(conv.samples[0] is explain)
    assert orders == {True, False}
    # Every question names a family that exists (or none: then any Calculate family).
    for table in (templates_explain._OPERATIONS, templates_explain._METHODS):
        for entries in table.values():
            for _, _, related in entries:
                assert templates_explain.worked(related), related


def test_all_off_kind_switches_every_tool_off_and_calls_none() -> None:
    from finetune.synth.generate import MIX, TOOLS

    # Right after contrast and 0 by default: every mix drawn before it (the shipped adapter's)
    # draws the same.
    assert list(MIX).index("all_off") == list(MIX).index("contrast") + 1 and MIX["all_off"] == 0
    assert generate(40, seed=5, mix={"all_off": 0.0}) == generate(40, seed=5)
    convs = generate(60, seed=6, mix={k: float(k == "all_off") for k in MIX})
    needed = 0
    for conv in convs:
        assert isinstance(conv, SynthConversation) and conv.disabled == TOOLS
        assert conv.meta_instruction == meta_instruction(TOOLS)
        assert "enabled. API" not in conv.meta_instruction
        assert [e.commands for e in conv.exchanges] == ["None"]
        sample = conv.samples[0]
        if sample.template.startswith("off:"):  # a question that needed a tool: says it is off
            needed += 1
            assert "switched off" in sample.reply and "disabled" in sample.thoughts
    assert 0 < needed < len(convs)  # both shapes: tool questions and plain chat


def test_more_kind_draws_a_second_round_of_calc_and_solve_phrasings() -> None:
    from finetune.synth import templates_paraphrase, templates_rebalance
    from finetune.synth.generate import MIX

    # After all_off and 0 by default: every mix drawn before it (the shipped adapter's) draws
    # the same.
    assert list(MIX).index("more") == list(MIX).index("all_off") + 1 and MIX["more"] == 0
    assert generate(40, seed=5, mix={"more": 0.0}) == generate(40, seed=5)
    for copy in templates_rebalance.MORE:
        base = copy.name.removesuffix(".more")
        original = next(f for f in all_families() if f.name == base)
        paraphrases = templates_paraphrase.CALC + templates_paraphrase.SOLVE
        wide = [f for f in paraphrases if f.name == f"{base}.wide"]
        # Same skill and held-out pool; no train wording repeats the base or the wide round.
        assert copy.make is original.make and copy.heldout == original.heldout, base
        earlier = {repr(p) for f in [original, *wide] for p in f.train}
        assert not {repr(p) for p in copy.train} & earlier, base
    convs = generate(200, seed=5, mix={k: float(k == "more") for k in MIX})
    samples = [s for c in convs if isinstance(c, SynthConversation) for s in c.samples]
    assert {s.tool for s in samples} == {"Calculate", "Solve"}
    assert {s.template.split("/")[0] for s in samples} == {f.name for f in templates_rebalance.MORE}
    for s in samples:
        if s.template.startswith("solve.system"):
            # The unknowns asked for after the equations are not written as one more equation.
            assert len(s.calls[0].argument.split(";")) == len(s.solutions or {}), s.human
        if s.template.startswith("solve.word.more"):
            assert "halve" in s.human.lower() or "half" in s.human.lower()
            assert s.calls[0].argument.startswith("x/2")


def _tool(conv: object) -> str | None:
    samples = getattr(conv, "samples", [])
    return samples[0].tool if len(samples) == 1 and not getattr(conv, "disabled", ()) else "other"


def test_eval_assets_are_regenerated_exactly() -> None:
    texts = asset_texts()
    for name, text in texts.items():
        path = ASSETS / name
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run `moss-agent synth --eval-assets finetune/assets`"
        )


def test_eval_cases_cover_every_kind_from_the_heldout_split() -> None:
    cases = [json.loads(line) for line in (ASSETS / "eval_cases.jsonl").read_text().splitlines()]
    smoke = [json.loads(line) for line in (ASSETS / "eval_smoke.jsonl").read_text().splitlines()]
    assert len(cases) >= 160
    for tool in PER_TOOL:
        assert sum(c["tool"] == tool for c in cases) >= 40
        assert sum(c["tool"] == tool for c in smoke) >= 4
    assert len({c["id"] for c in cases}) == len(cases)
    assert len({c["query"] for c in cases}) == len(cases)
    corpus_ids = {d.id for d in documents("heldout")}
    train_queries = {s.human for c in generate(60, seed=0) for s in c.samples}  # type: ignore[attr-defined]
    for case in cases:
        assert case["query"] not in train_queries
        if case["tool"] == "Search":
            assert case["doc"] in corpus_ids


def test_every_phrasing_in_the_data_files_belongs_to_a_family() -> None:
    """A family name misspelt in finetune/synth/data/phrasings/*.json would leave its phrasings
    unused and the family without them: every entry names a family, and every family that
    reads the files found both of its splits there."""
    from finetune.synth import templates_explain, templates_paraphrase, templates_rebalance
    from finetune.synth.base import _phrasing_table

    families = {f.name: f for f in all_families()}
    for f in templates_paraphrase.CALC + templates_paraphrase.SOLVE + templates_rebalance.MORE:
        families[f.name] = f
    for f in templates_explain.CHAT:
        families[f.name] = f
    table = _phrasing_table()
    assert set(table) <= set(families), set(table) - set(families)
    for name, splits in table.items():
        assert set(splits) <= {"train", "heldout"}, name
        for split, phrasings in splits.items():
            assert phrasings and getattr(families[name], split) == phrasings, (name, split)


def test_runner_searches_its_corpus_with_a_search_of_its_own() -> None:
    """Generating data changes nothing process-wide: the runner's Search answers from the
    split's corpus, the process's configured backend stays what it was."""
    from moss_core.protocol import Call
    from plugins import search

    before = search.get_backend()
    runner = Runner("heldout")
    doc = documents("heldout")[0]
    [result] = runner.dispatcher.run([Call("Search", doc.title)])
    assert result.ok and any(doc.title in str(snippet) for snippet in result.value)
    assert search.get_backend() is before
    search.configure()


def test_failed_kind_shows_no_result_and_a_reply_that_invents_nothing() -> None:
    from finetune.evaluate import numbers_of_its_own
    from finetune.synth.generate import MIX, TOOLS
    from moss_core.protocol import NO_RESULT

    # After every kind drawn before it, and 0 by default, as every kind after it is: every mix
    # drawn before it (the shipped adapter's first stage) draws the same.
    after = list(MIX)[list(MIX).index("failed") :]
    assert after == ["failed", "story", "steps"] and not any(MIX[k] for k in after)
    assert generate(40, seed=5, mix={"failed": 0.0}) == generate(40, seed=5)
    convs = generate(60, seed=7, mix={k: float(k == "failed") for k in MIX})
    tools = set()
    for conv in convs:
        assert isinstance(conv, SynthConversation)
        # Every tool is on: the call is right, it is the run that failed.
        assert conv.disabled == () and conv.meta_instruction == meta_instruction()
        (exchange,), (sample,) = conv.exchanges, conv.samples
        tools.add(sample.tool)
        assert sample.template.startswith("failed:") and len(sample.calls) == 1
        assert exchange.commands == sample.calls[0].render()
        # The Results read as inference shows a failure; no answer is scored or stated.
        assert exchange.results.endswith(NO_RESULT + ("'" if sample.tool == "Calculate" else ""))
        assert not sample.answers and not sample.expected
        # Every number in the reply is one the question or the call already had.
        assert not numbers_of_its_own(exchange.reply, exchange.human, sample.calls[0].argument)
    assert tools == set(TOOLS)
