"""The public names of the ``agent`` package: one list, each name importable, none loading torch."""

from __future__ import annotations

import subprocess
import sys

import agent


def test_every_exported_name_is_listed_once_and_resolves() -> None:
    assert sorted(agent.__all__) == sorted(agent._EXPORTS)
    assert len(set(agent.__all__)) == len(agent.__all__)
    for name in agent.__all__:
        value = getattr(agent, name)
        assert getattr(value, "__name__", name) == name


def test_importing_the_api_loads_neither_torch_nor_a_model_library() -> None:
    code = (
        "import sys, agent\n"
        "from agent import Agent, LlamaCppBackend, TransformersBackend, load_backend\n"
        "print(sorted(m for m in ('torch', 'transformers', 'llama_cpp') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_type_checking_imports_are_the_exported_names() -> None:
    """``agent/__init__.py`` imports each public name for type checkers, from the module its
    lazy table names: the two lists cannot drift apart."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(agent.__file__).read_text())
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.ImportFrom):
                    imported.update({a.name: stmt.module or "" for a in stmt.names})
    assert imported == agent._EXPORTS
