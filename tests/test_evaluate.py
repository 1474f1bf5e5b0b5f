"""The evaluation harness, scored on an Agent whose model is a ScriptedBackend.

The script plays known right and wrong answers, so every metric has an exact expected value.
The plugins (calculator, solver, local search) are the real ones.
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path

import pytest

from agent.backends.scripted import ScriptedBackend
from agent.loop import Agent
from finetune import evaluate as ev
from finetune.evaluate import Case, Report, evaluate
from finetune.evaluate import cli as eval_cli
from moss_core.errors import BackendError, ConversationError, PluginError
from plugins import Registry

CORPUS = [
    {
        "id": "velar",
        "title": "Mount Velar",
        "text": "Mount Velar rises to a height of 4,210 metres.",
    },
    {"id": "tarsk", "title": "Tarsk", "text": "Tarsk has a population of 184,500 people."},
    {"id": "bread", "title": "Baking bread", "text": "Bread needs flour, water, salt and yeast."},
    {"id": "rye", "title": "Rye bread recipe", "text": "A rye bread recipe uses rye flour."},
]


def phase1(thought: str, commands: str | None) -> str:
    """What the model writes after ``<|Inner Thoughts|>:`` (no Commands line when None)."""
    if commands is None:
        return f" {thought}<eot>"
    return f" {thought}<eot>\n<|Commands|>: {commands}<eoc>"


# (case, phase-1 output, reply)
SCRIPT: list[tuple[Case, str, str]] = [
    (  # right tool, right argument, right answer
        Case("c-right", "What is 4,817 times 63?", "Calculate", value=303471, answer=("303471",)),
        phase1("I drop the separators: 4817*63.", 'Calculate("4817*63")'),
        " 4817 × 63 = 303,471.<eom>",
    ),
    (  # right tool, dropped operand
        Case("c-drop", "What is 4,817 times 63?", "Calculate", value=303471, answer=("303471",)),
        phase1("I calculate.", 'Calculate("4817")'),
        " It is 4817.<eom>",
    ),
    (  # searched a calculation
        Case(
            "c-search",
            "How many seconds are in 3 days?",
            "Calculate",
            value=259200,
            answer=("259200",),
        ),
        phase1("I search.", 'Search("seconds in 3 days")'),
        " I don't know.<eom>",
    ),
    (  # the system with other unknown names: still right
        Case(
            "s-right",
            "x + y = 10 and x - y = 4",
            "Solve",
            solutions={"x": 7, "y": 3},
            answer=("7",),
        ),
        phase1("Two equations: a+b=10;a-b=4.", 'Solve("a+b=10;a-b=4")'),
        " a = 7 and b = 3.<eom>",
    ),
    (  # only the first equation of the system
        Case(
            "s-first",
            "x + y = 10 and x - y = 4",
            "Solve",
            solutions={"x": 7, "y": 3},
            answer=("7",),
        ),
        phase1("One equation.", 'Solve("x+y=10")'),
        " x = 10 - y.<eom>",
    ),
    (  # a good query
        Case("q-right", "How high is Mount Velar?", "Search", doc="velar", answer=("4,210",)),
        phase1("A fact about Mount Velar, so I search.", 'Search("Mount Velar height")'),
        " Mount Velar is 4210 metres high.<eom>",
    ),
    (  # a query that misses the document, though the reply happens to be right
        Case(
            "q-miss", "How many people live in Tarsk?", "Search", doc="tarsk", answer=("184,500",)
        ),
        phase1("I search.", 'Search("bread recipe")'),
        " Tarsk has 184,500 people.<eom>",
    ),
    (  # small talk, no tool: right
        Case("n-right", "Hi!", None),
        phase1("A greeting.", "None"),
        " Hello!<eom>",
    ),
    (  # small talk sent to a tool
        Case("n-false", "I just turned 30!", None),
        phase1("I calculate.", 'Calculate("30")'),
        " Happy birthday!<eom>",
    ),
    (  # no Commands line at all
        Case("c-format", "What is 12 squared?", "Calculate", value=144, answer=("144",)),
        phase1("I should calculate.", None),
        " I am not sure.<eom>",
    ),
]
CASES = [case for case, _, _ in SCRIPT]


def scripted_agent(script: list[tuple[Case, str, str]] = SCRIPT, **kwargs: object) -> Agent:
    replies = [text for _, p1, reply in script for text in (p1, reply)]
    return Agent(ScriptedBackend(replies, context_length=4096), preset="short", **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(scripted_agent, CASES, CORPUS)


def by_id(report: Report) -> dict[str, ev.CaseResult]:
    return {r.id: r for r in report.results}


def test_each_case_is_scored_as_scripted(report: Report) -> None:
    r = by_id(report)
    assert [r[c].argument_correct for c in ("c-right", "s-right", "q-right", "n-right")] == [
        True
    ] * 4
    assert [
        r[c].argument_correct for c in ("c-drop", "c-search", "s-first", "q-miss", "n-false")
    ] == [False] * 5
    assert r["c-format"].format_valid is False and r["c-format"].called is None
    assert r["q-miss"].answer_correct is True  # the answer is scored apart from the argument
    assert r["n-false"].false_tool is True and r["n-right"].false_tool is False
    assert r["n-right"].answer_correct is None  # nothing to check
    assert r["c-right"].called == "Calculate" and r["c-right"].argument == "4817*63"


def test_overall_metrics_are_exact(report: Report) -> None:
    m = report.overall
    assert m["cases"] == 10
    assert m["format_valid"] == pytest.approx(9 / 10)
    assert m["tool_accuracy"] == pytest.approx(7 / 10)  # c-search, n-false, c-format wrong
    assert m["argument_accuracy"] == pytest.approx(4 / 10)
    assert m["answer_accuracy"] == pytest.approx(4 / 8)  # 8 cases have answers
    assert m["false_tool_rate"] == pytest.approx(1 / 2)
    seconds = sorted(r.seconds for r in report.results)
    assert m["latency_p50_s"] == seconds[4] and m["latency_p95_s"] == seconds[9]


def test_metrics_by_tool_are_exact(report: Report) -> None:
    t = report.by_tool
    assert list(t) == ["Calculate", "Solve", "Search", "none"]
    assert t["Calculate"]["cases"] == 4
    assert t["Calculate"]["format_valid"] == pytest.approx(3 / 4)
    assert t["Calculate"]["tool_accuracy"] == pytest.approx(2 / 4)
    assert t["Calculate"]["argument_accuracy"] == pytest.approx(1 / 4)
    assert t["Calculate"]["answer_accuracy"] == pytest.approx(1 / 4)
    assert t["Calculate"]["false_tool_rate"] is None
    assert (t["Solve"]["tool_accuracy"], t["Solve"]["argument_accuracy"]) == (1.0, 0.5)
    assert t["Solve"]["answer_accuracy"] == 0.5
    assert (t["Search"]["tool_accuracy"], t["Search"]["argument_accuracy"]) == (1.0, 0.5)
    assert t["Search"]["answer_accuracy"] == 1.0
    assert (t["none"]["tool_accuracy"], t["none"]["argument_accuracy"]) == (0.5, 0.5)
    assert t["none"]["false_tool_rate"] == 0.5 and t["none"]["answer_accuracy"] is None


def test_table_and_json(report: Report) -> None:
    table = report.table()
    assert table.splitlines()[0].split() == [
        "metric",
        "all",
        "Calculate",
        "Solve",
        "Search",
        "none",
    ]
    assert "argument_accuracy" in table and "0.400" in table
    data = json.loads(json.dumps(report.to_dict()))
    assert data["metrics"]["tool_accuracy"] == pytest.approx(0.7)
    case = data["cases"][0]
    assert case["id"] == "c-right" and 'Calculate("4817*63")' in case["transcript"]
    assert case["turn"]["results_text"] == "Calculate(\"4817*63\") => '303471'"


def test_search_arguments_unscored_without_a_corpus() -> None:
    script = [s for s in SCRIPT if s[0].tool == "Search"]
    report = evaluate(lambda: scripted_agent(script), [c for c, _, _ in script])
    assert [r.argument_correct for r in report.results] == [None, None]
    assert report.overall["argument_accuracy"] is None


def test_a_corpus_is_searched_by_the_evaluated_agent_only() -> None:
    """The corpus replaces the evaluated agent's Search, not the process's: an agent built
    beside the evaluation, and the command line's configured backend, keep what they had."""
    from plugins import search

    script = [s for s in SCRIPT if s[0].tool == "Search"]
    evaluated = scripted_agent(script)
    bystander = scripted_agent(script)
    mine = search.LocalIndex()
    mine.add_many([search.Hit("zorvik", "Zorvik", "Zorvik is a village of 212 people.")])
    search.configure(backend=mine)
    try:
        report = evaluate(lambda: evaluated, [c for c, _, _ in script], CORPUS)
        assert search.get_backend() is mine
        assert bystander.plugins.get("Search")("Zorvik village")[0].startswith("Zorvik")
    finally:
        search.configure()
    assert [r.argument_correct for r in report.results] == [True, False]
    assert evaluated.plugins.get("Search")("Mount Velar height")[0].startswith("Mount Velar")


def test_no_tools_disables_every_plugin() -> None:
    script = SCRIPT[:1]
    report = evaluate(lambda: scripted_agent(script), [script[0][0]], CORPUS, no_tools=True)
    result = report.results[0]
    assert "- Calculator: disabled." in report.meta_instruction
    assert "enabled. API" not in report.meta_instruction
    assert result.turn["commands"][0]["refused"] is True
    assert "No result." in result.turn["results_text"]
    assert "(all tools disabled" in report.table()


def test_disabled_switches_off_the_named_plugins_only() -> None:
    script = SCRIPT[:1]
    report = evaluate(lambda: scripted_agent(script), [script[0][0]], disabled=["Search"])
    assert "- Web search: disabled." in report.meta_instruction
    assert "- Calculator: enabled." in report.meta_instruction
    with pytest.raises(PluginError, match="No plugin called 'Nope'"):
        evaluate(lambda: scripted_agent(script), [script[0][0]], disabled=["Nope"])


def test_a_plugin_authors_own_tool_is_scored_by_name_arguments_and_answer() -> None:
    registry = Registry()

    @registry.plugin("Convert", label="Unit converter")
    def convert(quantity: str) -> str:
        return "5 km = 3.10686 miles"

    cases = [
        Case.from_dict(
            {
                "id": "u1",
                "query": "5 km in miles?",
                "tool": "Convert",
                "arguments": ["5 km to miles"],
                "answer": ["3.10686"],
            }
        ),
        Case.from_dict({"id": "u2", "query": "And 5 km in miles?", "tool": "Convert"}),
    ]
    script = [
        (cases[0], phase1("Convert.", 'Convert("5 KM to  miles")'), "About 3.10686 miles."),
        (cases[1], phase1("Convert.", 'Convert("5 km -> mi")'), "3.1 miles."),
    ]
    report = evaluate(lambda: scripted_agent(script, plugins=registry), cases)
    first, second = report.results
    assert (first.tool_correct, first.argument_correct, first.answer_correct) == (True, True, True)
    assert (second.tool_correct, second.argument_correct) == (True, None)  # nothing to score by
    assert list(report.by_tool) == ["Convert"]
    assert "Convert" in report.table().split("\n")[0]
    with pytest.raises(ConversationError, match='"tool" must be a plugin'):
        Case.from_dict({"id": "bad", "query": "q", "tool": "two words"})
    # One accepted argument may be written as a string; it is not split into characters.
    one = Case.from_dict({"id": "u3", "query": "q", "tool": "Convert", "arguments": "5 km"})
    assert one.arguments == ("5 km",)


def test_no_tools_rewrites_a_fixed_meta_instruction() -> None:
    script = SCRIPT[:1]
    fixed = "You are MOSS.\n- Calculator: enabled. API: Calculate(expression)\n"
    report = evaluate(
        lambda: scripted_agent(script, meta_instruction=fixed), [script[0][0]], no_tools=True
    )
    assert "enabled. API" not in report.meta_instruction


OUTAGE: list[tuple[Case, str, str]] = [
    (  # the calculator gave nothing and the reply makes the product up
        SCRIPT[0][0],
        phase1("I drop the separators: 4817*63.", 'Calculate("4817*63")'),
        " 4817 × 63 = 303,471.<eom>",
    ),
    (  # the search gave nothing and the reply says so
        SCRIPT[5][0],
        phase1("A fact about Mount Velar, so I search.", 'Search("Mount Velar height")'),
        " The search gave no result, so I cannot say how high Mount Velar is.<eom>",
    ),
    SCRIPT[7],  # small talk calls nothing: it has no failure to count
]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_fail_tools_keeps_tools_listed_fails_every_call_and_counts_made_up_answers(
    batch_size: int,
) -> None:
    # A batch runs every first phase before the replies: script the model in that order.
    firsts, replies = [p for _, p, _ in OUTAGE], [r for _, _, r in OUTAGE]
    if batch_size == 1:
        items = [text for pair in zip(firsts, replies, strict=True) for text in pair]
    else:
        items = firsts + replies
    agent = Agent(ScriptedBackend(items, context_length=4096), preset="short")
    report = evaluate(
        lambda: agent, [c for c, _, _ in OUTAGE], CORPUS, fail_tools=True, batch_size=batch_size
    )
    assert "- Calculator: enabled. API" in report.meta_instruction
    calc, search, chat = report.results
    assert "No result." in calc.turn["results_text"] and "No result." in search.turn["results_text"]
    assert (calc.made_up, search.made_up, chat.made_up) == (True, False, None)
    assert report.overall["made_up_on_failure"] == 0.5
    assert calc.argument_correct is True  # the command itself was right
    assert "(every call failed: --fail-tools)" in report.table()
    assert agent.dispatcher.registry is not agent.plugins


def test_made_up_answers_are_counted_after_real_failures_too() -> None:
    case = Case("s-none", "Solve x + 3 = x + 5.", "Solve", solutions={"x": 0})
    script = [(case, phase1("One equation.", 'Solve("x+3=x+5")'), " So x = 2.<eom>")]
    report = evaluate(lambda: scripted_agent(script), [case])
    assert report.results[0].made_up is True  # the solver found no solution; "2" came from nowhere
    assert report.by_tool["Solve"]["made_up_on_failure"] == 1.0
    assert report.overall["made_up_on_failure"] == 1.0


def test_no_tools_and_fail_tools_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="pick one"):
        evaluate(scripted_agent, CASES, no_tools=True, fail_tools=True)


def test_a_failing_backend_scores_zero_and_goes_on() -> None:
    case = CASES[0]
    items: list[str | BaseException] = [
        BackendError("server died"),
        phase1("x", 'Calculate("4817*63")'),
        " 303471.<eom>",
    ]
    agent = Agent(ScriptedBackend(items), preset="short")
    report = evaluate(lambda: agent, [case, case])
    first, second = report.results
    assert first.error and "server died" in first.error and first.tool_correct is False
    assert second.error is None and second.argument_correct is True
    assert report.overall["tool_accuracy"] == 0.5


def test_answer_matching() -> None:
    assert ev.contains_answer("The height is 8,849 metres.", ["8849"])
    assert ev.contains_answer("It costs $2,013.", ["$2,013"])
    assert ev.contains_answer("PARIS it is", ["Paris"])
    assert not ev.contains_answer("About 18.5", ["8"])
    assert not ev.contains_answer("It was 1,8890", ["1889"])
    assert ev.contains_answer("x = -3.", ["-3"])


def test_cases_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"id": "a", "query": "6*7?", "tool": "Calculate", "value": 42, "answer": ["42"]}\n'
        '{"id": "b", "query": "hi", "tool": null, "answer": []}\n'
    )
    cases = ev.read_cases(path)
    assert cases[0].value == 42.0 and cases[1].tool is None
    path.write_text('{"id": "a", "query": "x", "tool": "Solve"}\n')
    with pytest.raises(ConversationError, match='needs "solutions"'):
        ev.read_cases(path)


def test_cli_prints_the_table_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(_case_json(c)) + "\n" for c in CASES))
    (tmp_path / "eval_corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
    # Only the model is replaced: run_eval would otherwise load the embedded model.
    monkeypatch.setattr(eval_cli, "_factory", lambda args: scripted_agent)
    parser = argparse.ArgumentParser()
    ev.add_eval_arguments(parser)
    out = tmp_path / "report.json"
    args = parser.parse_args(["--cases", str(cases), "--json", str(out)])
    args.cases = str(cases.with_name("eval_cases.jsonl"))
    cases.rename(args.cases)  # the corpus next to it is found by its name
    assert ev.run_eval(args) == 0
    printed = capsys.readouterr().out
    assert "argument_accuracy" in printed and "0.400" in printed
    assert json.loads(out.read_text())["metrics"]["argument_accuracy"] == pytest.approx(0.4)


def test_cli_warns_when_search_cases_have_no_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "mine.jsonl"  # no eval_corpus.jsonl beside it
    cases.write_text("".join(json.dumps(_case_json(c)) + "\n" for c in CASES))
    searches = sum(1 for c in CASES if c.tool == "Search")
    assert searches
    warned = _warnings_before_the_model(monkeypatch, capsys, cases)
    assert f"{searches} Search cases but no corpus" in warned and "--corpus" in warned
    (tmp_path / "eval_corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in CORPUS))
    cases.rename(tmp_path / "eval_cases.jsonl")
    warned = _warnings_before_the_model(monkeypatch, capsys, tmp_path / "eval_cases.jsonl")
    assert "warning" not in warned


def _warnings_before_the_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cases: Path
) -> str:
    """What ``moss-agent eval --cases CASES`` prints to stderr before it loads a model."""

    def no_model(args: argparse.Namespace) -> None:
        raise RuntimeError("stopped before the model loads")

    monkeypatch.setattr(eval_cli, "_factory", no_model)
    parser = argparse.ArgumentParser()
    ev.add_eval_arguments(parser)
    with pytest.raises(RuntimeError, match="stopped"):
        ev.run_eval(parser.parse_args(["--cases", str(cases)]))
    return capsys.readouterr().err


def test_cli_warns_when_cases_expect_a_plugin_that_is_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "convert.jsonl"
    lines = [
        {"id": f"c{i}", "query": "5 km in miles?", "tool": "Convrt", "arguments": "5 km to miles"}
        for i in range(2)
    ]
    lines.append({"id": "n", "query": "6*7?", "tool": "Calculate", "value": 42})
    cases.write_text("".join(json.dumps(line) + "\n" for line in lines))
    warned = _warnings_before_the_model(monkeypatch, capsys, cases)
    assert "2 case(s) expect Convrt, which is not an installed plugin" in warned
    assert "Calculate" not in warned


def _case_json(case: Case) -> dict[str, object]:
    data: dict[str, object] = {"id": case.id, "query": case.query, "tool": case.tool}
    if case.value is not None:
        data["value"] = case.value
    if case.solutions is not None:
        data["solutions"] = case.solutions
    if case.doc is not None:
        data["doc"] = case.doc
    data["answer"] = list(case.answer)
    return data


def test_the_correct_turn_scores_full_marks_on_every_heldout_case() -> None:
    """An oracle plays the generator's own correct turn for each shipped case: every case is
    scorable, and the shipped corpus answers every Search case."""
    from finetune.synth.evalcases import ASSETS, eval_samples

    pairs = eval_samples()
    script: list[tuple[Case, str, str]] = []
    for case_json, sample in pairs:
        commands = ", ".join(c.render() for c in sample.calls) or "None"
        script.append(
            (Case.from_dict(case_json), phase1(sample.thoughts, commands), f" {sample.reply}<eom>")
        )
    corpus = ev.read_corpus(ASSETS / "eval_corpus.jsonl")
    shipped = ev.read_cases(ASSETS / "eval_cases.jsonl")
    assert [c.id for c in shipped] == [c.id for c, _, _ in script]
    report = evaluate(lambda: scripted_agent(script), shipped, corpus)
    wrong = [(r.id, r.called, r.argument, r.reply) for r in report.results if not (
        r.format_valid and r.tool_correct and r.argument_correct and r.answer_correct is not False
    )]  # fmt: skip
    assert not wrong
    assert report.overall["false_tool_rate"] == 0.0


def test_shipped_adapter_fits_its_size_budget_and_records_its_training() -> None:
    # The adapter ships inside the package: at most 20 MB. Its moss_agent.json carries the
    # meta-instruction it was trained with, which Agent.default() prompts with.
    from agent.shipped import ADAPTER_DIR

    if not (ADAPTER_DIR / "adapter_config.json").is_file():
        pytest.skip("no default adapter is installed (`make adapter` trains one)")
    size = sum(f.stat().st_size for f in ADAPTER_DIR.iterdir() if f.is_file())
    assert size <= 20_000_000, f"the shipped adapter is {size:,} bytes; the budget is 20 MB"
    info = json.loads((ADAPTER_DIR / "moss_agent.json").read_text(encoding="utf-8"))
    assert info["base_model"] == "default" and info["meta_instruction"].startswith("You are MOSS")
    # peft's own loaders read the base from adapter_config.json: a hub id, not a path that
    # existed only on the machine that trained it.
    config = json.loads((ADAPTER_DIR / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.slow
def test_default_model_on_the_smoke_cases() -> None:
    """The shipped adapter on the smoke cases, as a regression check, one by one and batched.

    On these 20 cases the shipped adapter (see its model card) measured format_valid 1.0,
    tool_accuracy 1.0, argument_accuracy 0.95 and false_tool_rate 0.0 (its first stage alone:
    0.90 on arguments here). The floors sit three cases (0.15) below that, so a broken adapter,
    prompt or parser fails this while a thread count's rounding differences do not; move them
    with the adapter that ships."""
    from agent.shipped import default_adapter

    if default_adapter() is None:
        pytest.skip("no default adapter is installed (`make adapter` trains one)")
    from finetune.synth.evalcases import ASSETS

    cases = ev.read_cases(ASSETS / "eval_smoke.jsonl")
    corpus = ev.read_corpus(ASSETS / "eval_corpus.jsonl")
    report = evaluate(Agent.default, cases, corpus)
    print(report.table())
    # Batched, the same lines run and score alike. A batch multiplies several rows at once,
    # in other kernels, so a near-tie in a free-text reply may fall the other way; the
    # Commands line and the scores may differ in one case at most.
    batched = evaluate(Agent.default, cases, corpus, batch_size=8)
    pairs = list(zip(report.results, batched.results, strict=True))

    def scored(r: ev.CaseResult) -> tuple[object, ...]:
        return (r.called, r.argument, r.tool_correct, r.argument_correct, r.answer_correct)

    differ = [a.id for a, b in pairs if scored(a) != scored(b)]
    assert len(differ) <= 1, differ
    assert (report.overall["format_valid"] or 0.0) >= 0.85
    assert (report.overall["tool_accuracy"] or 0.0) >= 0.85
    assert (report.overall["argument_accuracy"] or 0.0) >= 0.80
    assert (report.overall["false_tool_rate"] or 0.0) <= 0.40  # 5 none cases: at most 2 wrong


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("eval_fresh.jsonl", {"Calculate": 16, "Solve": 12, "Search": 10, "none": 10}),
        ("eval_blind.jsonl", {"Calculate": 50, "Solve": 36, "Search": 40, "none": 34}),
    ],
)
def test_hand_written_cases_hold_up_against_their_reference_answers(
    name: str, counts: dict[str, int]
) -> None:
    """The hand-written sets, in wordings never used to design training data, check how far
    held-out figures carry to wordings nobody tuned for. ``eval_fresh.jsonl`` (48) was written
    after the shipped adapter's first stage was trained; ``eval_blind.jsonl`` (160) by a writer
    who saw neither the training templates nor any evaluation set or result. Hand-written, so
    each case carries a ``reference`` call; this checks every expected value against the real
    plugins and every Search answer against its document."""
    from collections import Counter

    from finetune.synth.evalcases import ASSETS

    path = ASSETS / name
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    cases = ev.read_cases(path)
    docs = {d["id"]: d["text"] for d in map(json.loads, (ASSETS / "eval_corpus.jsonl").open())}
    heldout = {json.loads(line)["query"] for line in (ASSETS / "eval_cases.jsonl").open()}
    assert Counter(c.kind for c in cases) == counts
    assert len({c.id for c in cases}) == len(cases) and len({c.query for c in cases}) == len(cases)
    for case, line in zip(cases, raw, strict=True):
        assert case.query not in heldout, case.id
        if case.tool == "Calculate":
            assert case.value is not None and ev.calculate_matches(line["reference"], case.value)
            # The answers accepted are the value, rounded (a drop in percent is stated without
            # the sign its percent change has).
            assert case.answer, case.id
            assert all(abs(float(a) - abs(case.value)) < 0.05 for a in case.answer), case.id
        elif case.tool == "Solve":
            assert case.solutions and ev.solve_matches(line["reference"], case.solutions), case.id
            # The answers accepted are the solutions' values, some rounded or as a fraction.
            assert case.answer, case.id
            for a in case.answer:
                assert min(abs(float(Fraction(a)) - v) for v in case.solutions.values()) < 0.005
        elif case.tool == "Search":
            assert case.doc in docs and any(a in docs[case.doc] for a in case.answer), case.id
        else:
            assert not case.answer and "reference" not in line, case.id


@pytest.mark.slow
def test_shipped_adapter_says_so_when_its_calls_fail() -> None:
    """The shipped adapter's second stage was trained on calls that fail (``synth --mix
    failed``): the reply should say the tool gave no result, not make the answer up. Real
    failures, as users meet them: a search that finds nothing (an empty local index stands in
    for a web search with no network) and equations with no solution. Stage 1 alone made a
    number up after most failures (16 of 30 in the model card's probe; stage 2: 3); the floor
    allows one of these six."""
    from agent.shipped import default_adapter
    from plugins.search import LocalIndex, make_search

    if default_adapter() is None:
        pytest.skip("no default adapter is installed (`make adapter` trains one)")
    questions = [
        "How many people live in Vessmoor?",
        "When was the Kalbrun Bridge opened?",
        "Who designed the Orvetta Tower?",
        "How long is the Taskel River?",
        "Solve x + 3 = x + 5.",
        "Find y if 2y + 4 = 2(y + 3).",
    ]
    agent = Agent.default(device="cpu")
    agent.plugins.add(make_search(LocalIndex()), replace_existing=True)
    made_up = []
    for question in questions:
        agent.reset()
        turn = agent.chat(question)
        assert turn.commands and not any(c.ok for c in turn.commands), question
        if ev.numbers_of_its_own(turn.reply, question, turn.commands_text):
            made_up.append((question, turn.reply))
    assert len(made_up) <= 1, made_up


@pytest.mark.slow
def test_shipped_adapter_recovers_from_its_misread_system_by_retrying() -> None:
    """Greedy decoding reads "find x and y" as a third equation ``x=y`` and the solver finds no
    solution. Two of the model's next most likely readings (beam search) drop it, and agree:
    with retries on, the turn keeps that reading and its solution. (A held-out question:
    nothing here feeds training data.)"""
    from agent.shipped import default_adapter

    if default_adapter() is None:
        pytest.skip("no default adapter is installed (`make adapter` trains one)")
    question = "Given 7*x + y = 92 and also -2*x + y = -16, find x and y."
    agent = Agent.default(device="cpu", alternatives=0)
    first = agent.chat(question)
    agent.reset()
    agent.alternatives = 4
    turn = agent.chat(question)
    assert [c.ok for c in turn.commands] == [True]
    assert ev.solve_matches(turn.commands[0].argument, {"x": 12, "y": 8})
    assert "12" in turn.reply and "8" in turn.reply
    if all(c.ok for c in first.commands):  # a later adapter that reads it right first time
        assert turn.retried_from is None and turn.commands_text == first.commands_text
    else:
        assert turn.retried_from == first.commands_text
