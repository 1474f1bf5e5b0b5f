"""The public names of the ``agent`` package: one list, each name importable, none loading torch;
and the packages in layers, so importing ``plugins`` never loads the Agent."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import agent
import moss_core
import plugins


def _imported_names(module: object) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_every_exported_name_is_imported_listed_once_and_resolves() -> None:
    for package in (agent, plugins, moss_core):
        names = package.__all__
        assert len(set(names)) == len(names), package.__name__
        # The one list of names is the list of what __init__ imports: neither can drift.
        assert set(names) == _imported_names(package) - {"annotations"}, package.__name__
        for name in names:
            value = getattr(package, name)
            assert getattr(value, "__name__", name).rpartition(".")[2] == name


def test_the_errors_are_one_set_of_classes_wherever_they_are_imported() -> None:
    from moss_core.errors import PluginError, ToolUnavailable

    assert agent.PluginError is plugins.PluginError is PluginError
    assert agent.ToolUnavailable is plugins.ToolUnavailable is ToolUnavailable


def _loaded_after(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: list[str] = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    return loaded


def test_importing_the_api_loads_neither_torch_nor_a_model_library() -> None:
    loaded = _loaded_after("from agent import Agent, LlamaCppBackend, TransformersBackend")
    assert [m for m in ("torch", "transformers", "llama_cpp") if m in loaded] == []


def test_plugins_and_the_format_load_no_part_of_the_agent() -> None:
    """The packages form layers (import-linter checks the imports; this checks what runs):
    a plugin author's ``import plugins`` loads ``moss_core`` and nothing of ``agent``."""
    for code in ("import plugins", "from moss_core import protocol"):
        loaded = _loaded_after(code)
        assert [m for m in loaded if m == "agent" or m.startswith("agent.")] == [], code
