"""plugins.registry: the decorator, duplicate names, enable/disable, discovery."""

from __future__ import annotations

import pytest

from agent.errors import PluginError
from plugins import Registry, default_registry, make_plugin
from plugins.registry import installed, plugin


def test_decorator_reads_name_doc_signature_and_layout() -> None:
    reg = Registry()

    @reg.plugin("Lookup", label="Dictionary")
    def lookup(word: str) -> list[str]:
        """Find definitions of a word.

        Longer text that is not part of the description."""
        return [word]

    p = reg.get("Lookup")
    assert (p.name, p.label, p.api, p.layout) == (
        "Lookup",
        "Dictionary",
        "Lookup(word)",
        "snippets",
    )
    assert p.description == "Find definitions of a word."
    assert lookup("x") == ["x"], "the decorator returns the function unchanged"


def test_layout_from_return_annotation() -> None:
    def fields(x: str) -> dict[str, int]:
        return {}

    def value(x: str) -> str:
        return x

    assert make_plugin(fields).layout == "fields"
    assert make_plugin(value).layout == "value"


@pytest.mark.parametrize("name", ["None", "two words", "1abc"])
def test_bad_names_are_refused_with_the_fix(name: str) -> None:
    with pytest.raises(PluginError, match="identifier"):
        make_plugin(lambda x: x, name)


def test_functions_must_take_one_text_argument() -> None:
    def two(a: str, b: str) -> str:
        return a

    with pytest.raises(PluginError, match="exactly one required text argument"):
        make_plugin(two)

    def one_with_option(a: str, unit: str = "m") -> str:
        return a

    assert make_plugin(one_with_option).api == "one_with_option(a)"


def test_duplicate_names_fail_loudly_with_the_fix() -> None:
    reg = Registry()
    reg.add(make_plugin(lambda q: q, "Search"))
    with pytest.raises(PluginError, match=r"already a plugin called 'Search'.*remove\('Search'\)"):
        reg.add(make_plugin(lambda q: q, "Search"))
    reg.remove("Search")
    reg.add(make_plugin(lambda q: q, "Search"))


def test_module_level_decorator_registers_in_installed() -> None:
    try:

        @plugin("RegistryTestEcho", label="Echo")
        def echo(text: str) -> str:
            return text

        assert "RegistryTestEcho" in installed
        assert "RegistryTestEcho" in default_registry(entry_points_too=False)
    finally:
        installed.remove("RegistryTestEcho")


def test_enable_disable_and_copies_are_independent() -> None:
    reg = Registry([make_plugin(lambda q: q, "A"), make_plugin(lambda q: q, "B")])
    copy = reg.copy()
    reg.disable("A")
    assert [p.name for p in reg.enabled()] == ["B"]
    assert copy.is_enabled("A")
    with pytest.raises(PluginError, match="Known plugins: A, B"):
        reg.enable("C")


def test_builtins_register_like_everyone_else() -> None:
    reg = default_registry()
    for name, label, api in [
        ("Calculate", "Calculator", "Calculate(expression)"),
        ("Solve", "Equation solver", "Solve(equation)"),
        ("Search", "Web search", "Search(query)"),
    ]:
        p = reg.get(name)
        assert (p.label, p.api) == (label, api)
        assert p.source.startswith("plugins.")
