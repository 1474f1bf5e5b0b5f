"""Tests of the Convert plugin: the function, its registration, and what the model sees."""

from __future__ import annotations

import re

import pytest
from moss_plugin_units.plugin import convert, format_number
from moss_plugin_units.units import ConversionError, to_unit

from agent import Agent
from agent.backends.scripted import ScriptedBackend
from agent.dispatch import Dispatcher
from moss_core.protocol import Call, format_results
from plugins.registry import Registry


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("5 km to miles", "5 km = 3.10686 miles"),
        ("1 mile in km", "1 mile = 1.60934 km"),
        ("-40 °F to °C", "-40 °F = -40 °C"),
        ("100 celsius to fahrenheit", "100 celsius = 212 fahrenheit"),
        ("0 K to °C", "0 K = -273.15 °C"),
        ("1,200 ft -> m", "1200 ft = 365.76 m"),
        ("2.5 hours to minutes", "2.5 hours = 150 minutes"),
        ("100 km/h to mph", "100 km/h = 62.1371 mph"),
        ("1 GiB to MB", "1 GiB = 1073.74 MB"),
        ("1 gallon to liters", "1 gallon = 3.78541 liters"),
        ("lb to kg", "1 lb = 0.453592 kg"),
        ("3 fluid ounces to ml?", "3 fluid ounces = 88.7206 ml"),
    ],
)
def test_conversions(request_text: str, expected: str) -> None:
    assert convert(request_text) == expected


@pytest.mark.parametrize(
    ("request_text", "problem"),
    [
        ("5 furlongz to m", "Unknown unit 'furlongz'"),
        ("5 kg to m", "Cannot convert kg (mass) to m (length)"),
        ("five kilometres", "Write the conversion as"),
    ],
)
def test_bad_requests_say_what_would_work(request_text: str, problem: str) -> None:
    with pytest.raises(ConversionError, match=re.escape(problem)):
        convert(request_text)


def test_round_trip_is_exact_to_display_precision() -> None:
    assert format_number(to_unit(to_unit(98.6, "F", "C"), "C", "F")) == "98.6"


def test_the_plugin_is_registered_with_its_capability_line() -> None:
    p = convert.__moss_plugin__  # type: ignore[attr-defined]
    assert (p.name, p.label, p.api, p.layout, p.timeout) == (
        "Convert",
        "Unit converter",
        "Convert(quantity)",
        "value",
        2.0,
    )
    assert p.description.startswith("Convert a quantity between units")


def test_the_model_sees_an_inline_value_or_no_result() -> None:
    registry = Registry([convert.__moss_plugin__])  # type: ignore[attr-defined]
    results = Dispatcher(registry).run(
        [Call("Convert", "5 km to miles"), Call("Convert", "5 kg to m")]
    )
    assert format_results(results) == (
        "Convert(\"5 km to miles\") => '5 km = 3.10686 miles'\n"
        "Convert(\"5 kg to m\") => 'No result.'"
    )


def test_an_agent_uses_it() -> None:
    agent = Agent(
        ScriptedBackend(
            [
                ' I should convert.<eot>\n<|Commands|>: Convert("5 km to miles")<eoc>',
                " 5 km is about 3.1 miles.<eom>",
            ]
        ),
        plugins=Registry([convert.__moss_plugin__]),  # type: ignore[attr-defined]
    )
    turn = agent.chat("How many miles is 5 km?")
    assert "- Unit converter: enabled. API: Convert(quantity)" in agent.meta_instruction
    assert turn.results_text == "Convert(\"5 km to miles\") => '5 km = 3.10686 miles'"
