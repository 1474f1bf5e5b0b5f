"""LangChain tools as MOSS plugins and MOSS plugins as LangChain tools (agent.langchain)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolCall, ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, Tool, tool
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.backends.scripted import ScriptedBackend
from agent.dispatch import Dispatcher
from agent.langchain import (
    PluginTool,
    command_name,
    format_value,
    from_langchain,
    plugin_as_langchain_tool,
)
from agent.loop import Agent
from moss_core.errors import PluginError
from moss_core.protocol import Call, format_results
from plugins import default_registry
from plugins.registry import Registry, make_plugin


@tool
def word_count(text: str) -> int:
    """Count the words in a text.

    Words are separated by whitespace."""
    return len(text.split())


@tool
def add_numbers(a: int, b: int, note: str = "") -> int:
    """Add two integers."""
    return a + b


@tool
def double(x: int) -> int:
    """Double an integer."""
    return 2 * x


@tool
def capital(country: str) -> dict[str, str]:
    """Look up a country's capital."""
    return {"country": country, "capital": {"France": "Paris"}[country]}


def run_commands(registry: Registry, commands: str) -> str:
    """The Results block the model would see for a Commands line."""
    from moss_core.protocol import parse_commands

    return format_results(Dispatcher(registry).run(parse_commands(commands).calls))


# -- LangChain tool -> plugin -------------------------------------------------------------------


def test_single_text_argument_maps_to_the_moss_call_form() -> None:
    p = from_langchain(word_count)
    assert (p.name, p.label, p.api) == ("WordCount", "Word count", "WordCount(text)")
    assert p.description == "Count the words in a text."
    assert p.source.endswith(":word_count")
    assert run_commands(Registry([p]), 'WordCount("one two three")') == (
        "WordCount(\"one two three\") => '3'"
    )


def test_the_agent_calls_a_langchain_tool_and_lists_it_in_the_meta_instruction() -> None:
    agent = Agent(
        ScriptedBackend(
            [
                ' Count them.<eot>\n<|Commands|>: WordCount("to be or not to be")<eoc>',
                " Six words.<eom>",
            ]
        ),
        plugins=Registry([from_langchain(word_count, label="Word counter")]),
    )
    turn = agent.chat("How many words in 'to be or not to be'?")
    assert "- Word counter: enabled. API: WordCount(text)" in agent.meta_instruction
    assert turn.results_text == "WordCount(\"to be or not to be\") => '6'"
    assert turn.reply == "Six words."


def test_several_arguments_take_a_json_object() -> None:
    p = from_langchain(add_numbers)
    assert p.api == 'AddNumbers({"a": integer, "b": integer, "note"?: string})'
    assert p('{"a": 2, "b": "40"}') == 42  # validated and coerced by the tool's schema


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ('{"a": 2}', "b: Field required"),
        ("2 + 40", "not JSON"),
        ("[2, 40]", "got list"),
        ('{"a": "two", "b": 40}', "a: Input should be a valid integer"),
        ('{"a": 2, "b": 40, "c": 3}', "c: unknown field"),  # pydantic alone would ignore it
    ],
)
def test_a_json_argument_that_does_not_validate_says_what_was_expected(
    argument: str, expected: str
) -> None:
    p = from_langchain(add_numbers)
    with pytest.raises(PluginError, match="takes a JSON object") as info:
        p(argument)
    assert expected in str(info.value)
    # The model only ever sees No result.; the reason is kept for logs and UIs.
    [result] = Dispatcher(Registry([p])).run([Call("AddNumbers", argument)])
    assert expected in (result.error or "")
    assert format_results([result]).endswith("=> 'No result.'")


def test_a_json_schema_dict_is_checked_for_required_and_unknown_fields() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    }
    forecast = StructuredTool(
        name="forecast",
        description="Weather forecast.",
        args_schema=schema,
        func=lambda city, days=1: f"{city}: sunny for {days} day(s)",
    )
    p = from_langchain(forecast)
    assert p.api == 'Forecast({"city": string, "days"?: integer})'
    assert p('{"city": "Oslo", "days": 2}') == "Oslo: sunny for 2 day(s)"
    with pytest.raises(PluginError, match="city: field required"):
        p('{"days": 2}')
    with pytest.raises(PluginError, match="hours: unknown field"):
        p('{"city": "Oslo", "hours": 2}')


def test_a_single_non_text_field_reads_the_argument_as_json() -> None:
    p = from_langchain(double)
    assert p.api == "Double(x)"
    assert p("21") == 42
    with pytest.raises(PluginError, match="Double takes x as integer"):
        p("twenty-one")


def test_plain_tools_and_async_only_tools_run_too() -> None:
    shout = Tool(name="shout", func=lambda s: s.upper() + "!", description="Shout a text.")
    assert from_langchain(shout).api == "Shout(input)"
    assert from_langchain(shout)("hey") == "HEY!"

    async def reverse(text: str) -> str:
        return text[::-1]

    backwards = StructuredTool.from_function(
        coroutine=reverse, name="reverse", description="Reverse a text."
    )
    assert run_commands(Registry([from_langchain(backwards)]), 'Reverse("abc")') == (
        "Reverse(\"abc\") => 'cba'"
    )


def test_a_tool_without_arguments_ignores_the_argument() -> None:
    @tool
    def today() -> str:
        """Today's date."""
        return "2024-05-01"

    p = from_langchain(today)
    assert (p.api, p(""), p("anything")) == ("Today()", "2024-05-01", "2024-05-01")


def test_structured_results_show_as_json_or_in_the_chosen_layout() -> None:
    assert from_langchain(capital)("France") == '{"country": "France", "capital": "Paris"}'
    fields = from_langchain(capital, layout="fields")
    assert run_commands(Registry([fields]), 'Capital("France")') == (
        'Capital("France") =>\ncountry = France\ncapital = Paris'
    )


def test_tool_errors_reach_the_model_as_no_result() -> None:
    p = from_langchain(capital)  # KeyError for unknown countries
    [result] = Dispatcher(Registry([p])).run([Call("Capital", "Atlantis")])
    assert result.error == "KeyError: 'Atlantis'"


def test_names_labels_and_timeouts_can_be_chosen() -> None:
    p = from_langchain(word_count, name="Words", label="Word counter", timeout=2.5)
    assert (p.name, p.label, p.api, p.timeout) == ("Words", "Word counter", "Words(text)", 2.5)
    assert command_name("get-weather_now") == "GetWeatherNow"
    with pytest.raises(PluginError, match="pass one"):
        command_name("42")
    with pytest.raises(PluginError, match="takes a LangChain tool"):
        from_langchain(len)  # type: ignore[arg-type]


# -- plugin -> LangChain tool ---------------------------------------------------------------------


def test_a_plugin_tool_has_the_plugin_name_description_and_argument() -> None:
    calculate = plugin_as_langchain_tool(default_registry().get("Calculate"))
    assert isinstance(calculate, PluginTool)
    assert calculate.name == "Calculate"
    assert calculate.description == "Evaluate an arithmetic expression."
    spec = convert_to_openai_tool(calculate)["function"]
    assert spec["name"] == "Calculate"
    assert spec["parameters"]["required"] == ["expression"]
    assert calculate.invoke({"expression": "4,817*63"}) == "303471"
    assert calculate.invoke("500/4") == "125.0"


@pytest.fixture
def local_search() -> Iterator[None]:
    from plugins import search

    search.configure(corpus=search.SAMPLE_CORPUS)
    yield
    search.configure()


@pytest.mark.usefixtures("local_search")
def test_field_and_snippet_results_become_readable_text() -> None:
    registry = default_registry()
    solve = plugin_as_langchain_tool(registry.get("Solve"))
    assert solve.invoke({"equation": "x^2 + 2x = 24"}) == "x_0 = -6\nx_1 = 4"
    found = plugin_as_langchain_tool(registry.get("Search")).invoke("Which planet is the largest?")
    assert found.startswith("[1] Jupiter: Jupiter is the largest planet")
    assert "\n[2] " in found


def test_format_value_per_layout() -> None:
    assert format_value(0.5, "value") == "0.5"
    assert format_value({"x": 24, "y": 26}, "fields") == "x = 24\ny = 26"
    assert format_value(["a", "b"], "snippets") == "[1] a\n[2] b"
    assert format_value(None, "value") == format_value([], "snippets") == "No result."


def test_a_failing_plugin_gives_the_reason_as_an_error_tool_message() -> None:
    calculate = plugin_as_langchain_tool(default_registry().get("Calculate"))
    message = calculate.invoke(
        ToolCall(name="Calculate", args={"expression": "1/0"}, id="call-1", type="tool_call")
    )
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    assert message.content == 'Calculate("1/0") failed: MathInputError: Division by zero.'


def test_a_slow_plugin_times_out_like_in_the_agent() -> None:
    def nap(seconds: str) -> str:
        time.sleep(float(seconds))
        return "awake"

    slow = plugin_as_langchain_tool(make_plugin(nap, "Nap", timeout=0.2))
    assert slow.invoke("0") == "awake"
    assert slow.invoke("5") == 'Nap("5") failed: timed out after 0.2 s'


def test_round_trips_give_back_the_original() -> None:
    assert plugin_as_langchain_tool(from_langchain(word_count)) is word_count
    p = default_registry().get("Calculate")
    assert from_langchain(plugin_as_langchain_tool(p)) is p


@pytest.mark.asyncio  # pytest-asyncio comes with langchain-tests
async def test_plugin_tools_run_async() -> None:
    calculate = plugin_as_langchain_tool(default_registry().get("Calculate"))
    assert await calculate.ainvoke({"expression": "2^10"}) == "1024"


def test_moss_plugins_serve_a_langchain_agent_loop() -> None:
    """What a LangChain agent does with tools: the model asks, the tools answer by call id."""
    tools: dict[str, BaseTool] = {
        p.name: plugin_as_langchain_tool(p) for p in default_registry() if p.name != "Search"
    }
    model = FakeMessagesListChatModel(
        responses=[
            AIMessage(
                "",
                tool_calls=[
                    ToolCall(
                        name="Calculate", args={"expression": "4817*63"}, id="a", type="tool_call"
                    ),
                    ToolCall(
                        name="Solve", args={"equation": "2x + 3 = 11"}, id="b", type="tool_call"
                    ),
                ],
            ),
            AIMessage("4817*63 = 303471, and x = 4."),
        ]
    )
    messages: list[Any] = [HumanMessage("What is 4817*63, and x if 2x + 3 = 11?")]
    while True:
        reply = model.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        messages += [
            tools[call["name"]].invoke({**call, "type": "tool_call"}) for call in reply.tool_calls
        ]
    answers = {m.tool_call_id: m.content for m in messages if isinstance(m, ToolMessage)}
    assert answers == {"a": "303471", "b": "x = 4"}
    assert messages[-1].content == "4817*63 = 303471, and x = 4."
