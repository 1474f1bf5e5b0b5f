"""LangChain, both ways: the Agent as a LangChain chat model, LangChain tools as plugins and
plugins as LangChain tools.

    from agent.langchain import MossChatModel, from_langchain, plugin_as_langchain_tool

    chat = MossChatModel(agent=Agent.default())           # a LangChain BaseChatModel
    agent.plugins.add(from_langchain(word_count_tool))    # a LangChain tool the model may call
    calculate = plugin_as_langchain_tool(default_registry().get("Calculate"))

It sits above the loop and the plugins, which never import it (``langchain-core`` loads only
when this package is imported).
"""

from agent.langchain.chat_model import (
    MossChatModel,
    MossConversation,
    ReplyFilter,
    conversation_from_messages,
)
from agent.langchain.tools import (
    PluginTool,
    argument_name,
    command_name,
    format_value,
    from_langchain,
    plugin_as_langchain_tool,
)

__all__ = [
    "MossChatModel",
    "MossConversation",
    "PluginTool",
    "ReplyFilter",
    "argument_name",
    "command_name",
    "conversation_from_messages",
    "format_value",
    "from_langchain",
    "plugin_as_langchain_tool",
]
