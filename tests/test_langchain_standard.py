"""LangChain's own standard test suites (``langchain-tests``), run on our integrations.

- ``MossChatModel``: ``ChatModelUnitTests`` and ``ChatModelIntegrationTests``. The integration
  suite runs for real, offline: every call gets a fresh Agent over a ``ScriptedBackend`` that
  plays one deterministic MOSS turn. Suites for features a MOSS model does not have as
  LangChain means them (tool calls for the caller to run, structured output, images, audio,
  PDFs, per-call model override) skip themselves through the capability properties below.
- Calculate, Solve and Search as LangChain tools: ``ToolsUnitTests`` and
  ``ToolsIntegrationTests`` (Search runs over the bundled local corpus, not the web).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ChatModelIntegrationTests, ToolsIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests, ToolsUnitTests

from agent.backends.scripted import ScriptedBackend
from agent.langchain import MossChatModel, PluginTool, plugin_as_langchain_tool
from agent.loop import Agent
from plugins.registry import Plugin, Registry, installed

# The async standard tests carry no asyncio mark of their own (LangChain's repositories run
# pytest-asyncio in auto mode); marking the whole module covers them in any mode, and the
# warning pytest-asyncio gives for the sync tests that inherit the mark says nothing here.
pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings(
        "ignore:The test <Function .* is marked with '@pytest.mark.asyncio'"
    ),
]

GREETING = (
    " Just a greeting.<eot>\n<|Commands|>: None<eoc>",
    " Hello! How can I help you today?<eom>",
)


def greeting_agent() -> Agent:
    """A fresh Agent that answers any one message with a fixed, well-formed MOSS turn."""
    return Agent(ScriptedBackend(GREETING), plugins=Registry())


class TestMossChatModelUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return MossChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"agent_factory": greeting_agent}


class TestMossChatModelIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[BaseChatModel]:
        return MossChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"agent_factory": greeting_agent}

    @property
    def supports_model_override(self) -> bool:
        # The model is the Agent's backend, loaded once; a per-call `model=` cannot swap it.
        return False


def builtin(module: str, name: str) -> Plugin:
    importlib.import_module(module)  # registers the built-in into `installed`
    return installed.get(name)


class TestCalculateToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return PluginTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"plugin": builtin("plugins.calculator", "Calculate")}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"expression": "4,817*63"}


class TestCalculateToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return plugin_as_langchain_tool(builtin("plugins.calculator", "Calculate"))

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"expression": "4,817*63"}


class TestSolveToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return PluginTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"plugin": builtin("plugins.solver", "Solve")}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"equation": "x^2 + 2x = 24"}


class TestSolveToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return plugin_as_langchain_tool(builtin("plugins.solver", "Solve"))

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"equation": "x^2 + 2x = 24"}


@pytest.fixture
def local_search() -> Iterator[None]:
    """Search the bundled sample corpus instead of the web, and restore the defaults after."""
    search = importlib.import_module("plugins.search")
    search.configure(corpus=search.SAMPLE_CORPUS)
    yield
    search.configure()


class TestSearchToolUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[BaseTool]:
        return PluginTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"plugin": builtin("plugins.search", "Search")}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"query": "Which planet is the largest?"}


@pytest.mark.usefixtures("local_search")
class TestSearchToolIntegration(ToolsIntegrationTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return plugin_as_langchain_tool(builtin("plugins.search", "Search"))

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"query": "Which planet is the largest?"}
