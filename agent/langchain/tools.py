"""LangChain tools and MOSS plugins, each usable as the other in one call.

A LangChain tool becomes a plugin the model calls as ``Name("argument")``::

    from langchain_core.tools import tool
    from agent.langchain import from_langchain

    @tool
    def word_count(text: str) -> int:
        '''Count the words in a text.'''
        return len(text.split())

    agent.plugins.add(from_langchain(word_count))   # the model may now write WordCount("a b c")

A plugin becomes a LangChain tool, so Calculate, Solve and Search work in LangChain agents::

    calculate = plugin_as_langchain_tool(default_registry().get("Calculate"))
    calculate.invoke({"expression": "2^10"})        # '1024'

The argument contract, from a tool's input schema:

- one field: the MOSS argument is that field's value (``WordCount("a b c")``); a field that is
  not a string takes the argument as JSON when it parses (``Double("21")`` gives the int 21);
- several fields: the argument is a JSON object, checked against the schema before the tool
  runs (``Add('{"a": 1, "b": 2}')``); one that does not fit raises ``PluginError`` saying
  what was expected, and the model sees ``No result.``;
- no field: the argument is ignored.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from langchain_core.callbacks import CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, create_model
from pydantic import model_validator as _model_validator
from pydantic.v1 import ValidationError as ValidationErrorV1

from agent.dispatch import DEFAULT_TIMEOUT, Dispatcher
from moss_core.errors import PluginError
from moss_core.protocol import NO_RESULT, Call, Layout
from plugins.registry import Plugin, Registry, make_plugin

# The tool a plugin was made from, kept on its function so the round trip gives it back.
_TOOL_ATTR = "__langchain_tool__"
_API_ARG = re.compile(r"^\s*\w+\(\s*([^\W\d]\w*)\s*\)\s*$")


# ---------------------------------------------------------------------------------------------
# LangChain tool -> plugin
# ---------------------------------------------------------------------------------------------


def command_name(tool_name: str) -> str:
    """The MOSS command a tool name becomes: words joined in CamelCase.

    >>> command_name("word_count"), command_name("get-weather"), command_name("DuckDuckGo")
    ('WordCount', 'GetWeather', 'DuckDuckGo')
    """
    words = [w for w in re.split(r"[^0-9A-Za-z]+", tool_name) if w]
    name = "".join(w[0].upper() + w[1:] for w in words)
    if not name.isidentifier() or name == "None":
        raise PluginError(
            f"The tool name {tool_name!r} does not make a MOSS command name; pass one: "
            "from_langchain(tool, name='MyTool')."
        )
    return name


def _label(tool_name: str) -> str:
    words = [w for w in re.split(r"[\s_\-]+", tool_name) if w]
    text = " ".join(words) or tool_name
    return text[:1].upper() + text[1:]


def _schema(tool: BaseTool) -> dict[str, Any]:
    """The JSON schema of what the model supplies (injected arguments left out)."""
    schema = tool.tool_call_schema
    if isinstance(schema, dict):
        return dict(schema)
    if issubclass(schema, BaseModel):
        return schema.model_json_schema()
    return dict(schema.schema())  # a pydantic.v1 model, as older LangChain tools declare


def _validate(schema: Any, obj: dict[str, Any]) -> None:
    """Validate ``obj`` with a pydantic (v2 or v1) model; raise ``ValidationError`` (v2) or
    ``pydantic.v1.ValidationError``."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        schema.model_validate(obj)
    else:
        schema.parse_obj(obj)


def _type_name(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, str):
        return kind
    options = [o.get("type") for o in prop.get("anyOf", []) if isinstance(o, Mapping)]
    return "|".join(t for t in options if isinstance(t, str) and t != "null") or "any"


def _object_shape(properties: Mapping[str, Any], required: set[str]) -> str:
    """``{"a": integer, "b"?: string}``: the JSON object a several-field tool takes."""
    parts = [f'"{k}"{"" if k in required else "?"}: {_type_name(v)}' for k, v in properties.items()]
    return "{" + ", ".join(parts) + "}"


def _check_object(command: str, obj: Any, schema: Mapping[str, Any], shape: str) -> None:
    """For tools whose schema is a plain JSON-schema dict, which LangChain does not validate."""
    if not isinstance(obj, dict):
        raise PluginError(f"{command} takes a JSON object {shape}; got {type(obj).__name__}.")
    problems = [f"{k}: field required" for k in schema.get("required", []) if k not in obj]
    if unknown := _unknown_fields(obj, schema):
        problems.append(unknown)
    if problems:
        raise PluginError(f"{command} takes a JSON object {shape}; {'; '.join(problems)}.")


def _unknown_fields(obj: dict[str, Any], schema: Mapping[str, Any]) -> str:
    """``"c: unknown field"`` for each key the schema does not name ("" when none)."""
    properties = schema.get("properties", {})
    return "; ".join(f"{k}: unknown field" for k in obj if properties and k not in properties)


def _validation_problems(exc: ValidationError | ValidationErrorV1) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'argument'}: {e['msg']}" for e in exc.errors()
    )


def _plugin_value(command: str, result: Any, layout: Layout) -> Any:
    """A tool's return value as a plugin value of ``layout``."""
    if layout == "fields":
        if not isinstance(result, Mapping):
            raise PluginError(
                f"{command} was registered with layout='fields' but its tool returned "
                f"{type(result).__name__}, not a dict."
            )
        return dict(result)
    if layout == "snippets":
        if isinstance(result, str) or not isinstance(result, list | tuple):
            raise PluginError(
                f"{command} was registered with layout='snippets' but its tool returned "
                f"{type(result).__name__}, not a list."
            )
        return [s if isinstance(s, str) else _json(s) for s in result]
    if result is None or (
        isinstance(result, str | int | float | Decimal) and not isinstance(result, bool)
    ):
        return result
    return _json(result)


def _json(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return json.dumps(value, ensure_ascii=False, default=str)


def from_langchain(
    tool: BaseTool,
    *,
    name: str | None = None,
    label: str | None = None,
    layout: Layout = "value",
    timeout: float | None = None,
) -> Plugin:
    """A plugin that runs a LangChain tool (not registered: add it to a registry).

    ``name`` is the command the model writes (default: the tool name in CamelCase), ``label``
    the capability label in the meta-instruction (default: the tool name as words). Dicts and
    lists a tool returns are shown as JSON unless ``layout`` is ``"fields"`` or ``"snippets"``.

    >>> from langchain_core.tools import tool
    >>> @tool
    ... def word_count(text: str) -> int:
    ...     '''Count the words in a text.'''
    ...     return len(text.split())
    >>> p = from_langchain(word_count)
    >>> (p.name, p.label, p.api, p("one two three"))
    ('WordCount', 'Word count', 'WordCount(text)', 3)
    """
    if isinstance(tool, PluginTool) and name is None and label is None and timeout is None:
        return tool.plugin
    if not isinstance(tool, BaseTool):
        raise PluginError(
            f"from_langchain takes a LangChain tool (a BaseTool, e.g. made with @tool); got "
            f"{type(tool).__name__}. Wrap a plain function with @plugin instead."
        )
    command = name or command_name(tool.name)
    properties: dict[str, Any] = dict(tool.args)
    keys = [k for k in properties if k != "kwargs"]
    # Async-only tools (StructuredTool with just a coroutine) cannot run through invoke();
    # plugins run in worker threads that have no event loop, so asyncio.run is safe there.
    async_only = getattr(tool, "func", 0) is None and getattr(tool, "coroutine", None) is not None

    def invoke(tool_input: str | dict[str, Any]) -> Any:
        if async_only:
            return asyncio.run(tool.ainvoke(tool_input))
        return tool.invoke(tool_input)

    if len(keys) > 1:
        schema = _schema(tool)
        shape = _object_shape(properties, set(schema.get("required", [])))
        api = f"{command}({shape})"
        validator = tool.tool_call_schema

        def run(argument: str) -> Any:
            try:
                obj = json.loads(argument)
            except json.JSONDecodeError as exc:
                raise PluginError(
                    f"{command} takes a JSON object {shape}; got {argument[:80]!r}, which is "
                    f"not JSON ({exc.msg})."
                ) from None
            if isinstance(validator, dict) or not isinstance(obj, dict):
                _check_object(command, obj, schema, shape)
            else:
                # pydantic ignores fields the model does not have: a misspelt one would pass.
                if unknown := _unknown_fields(obj, schema):
                    raise PluginError(f"{command} takes a JSON object {shape}; {unknown}.")
                try:
                    _validate(validator, obj)
                except (ValidationError, ValidationErrorV1) as exc:
                    raise PluginError(
                        f"{command} takes a JSON object {shape}; {_validation_problems(exc)}."
                    ) from None
            return _plugin_value(command, invoke(obj), layout)

    elif keys:
        key = keys[0]
        # A plain Tool's only field is called tool_input; "input" reads better in the API line.
        api = f"{command}({'input' if key == 'tool_input' else key})"
        wants_text = (
            properties[key].get("type") in ("string", None) and "anyOf" not in properties[key]
        )

        def run(argument: str) -> Any:
            value: Any = argument
            if not wants_text:
                try:
                    value = json.loads(argument)
                except json.JSONDecodeError:
                    value = argument  # let the schema say what it wanted
            # A tool without a schema (a plain Tool) takes the bare string.
            tool_input = argument if tool.args_schema is None else {key: value}
            try:
                result = invoke(tool_input)
            except (ValidationError, ValidationErrorV1) as exc:
                raise PluginError(
                    f"{command} takes {key} as {_type_name(properties[key])}; "
                    f"{_validation_problems(exc)}."
                ) from None
            return _plugin_value(command, result, layout)

    else:
        api = f"{command}()"

        def run(argument: str) -> Any:
            return _plugin_value(command, invoke({}), layout)

    setattr(run, _TOOL_ATTR, tool)
    description = (tool.description or "").strip().split("\n\n")[0]
    plugin = make_plugin(
        run,
        command,
        label=label or _label(tool.name),
        api=api,
        layout=layout,
        timeout=timeout,
        description=description,
    )
    defined_in = getattr(getattr(tool, "func", None), "__module__", None) or type(tool).__module__
    return replace(plugin, source=f"{defined_in}:{tool.name}")


# ---------------------------------------------------------------------------------------------
# plugin -> LangChain tool
# ---------------------------------------------------------------------------------------------


def format_value(value: Any, layout: Layout) -> str:
    """A plugin value as plain text for LangChain (no MOSS markers, no call echo).

    >>> format_value({"x": 24}, "fields"), format_value(["a", "b"], "snippets")
    ('x = 24', '[1] a\\n[2] b')
    """
    if value is None or (layout != "value" and not value):
        return NO_RESULT
    if layout == "fields":
        return "\n".join(f"{k} = {v}" for k, v in value.items())
    if layout == "snippets":
        return "\n".join(f"[{i}] {s}" for i, s in enumerate(value, 1))
    return str(value)


def argument_name(plugin: Plugin) -> str:
    """The argument's name from the API line: ``Calculate(expression)`` -> ``expression``."""
    m = _API_ARG.match(plugin.api)
    return m.group(1) if m else "argument"


def _input_model(plugin: Plugin) -> type[BaseModel]:
    arg = argument_name(plugin)
    field = (str, Field(description=f'The text argument, as in {plugin.name}("...").'))
    model: type[BaseModel] = create_model(f"{plugin.name}Input", **{arg: field})  # type: ignore[call-overload]
    return model


class PluginTool(BaseTool):
    """A MOSS plugin as a LangChain tool; build one with ``plugin_as_langchain_tool``.

    It runs the plugin under its timeout, as the Agent's dispatcher does, and returns the
    value as text (``format_value``). A failing plugin raises ``ToolException``; with
    ``handle_tool_error`` (on by default) the caller gets the reason as the tool's output, so
    a LangChain agent's model can read it and try again.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    plugin: Plugin = Field(exclude=True)
    timeout: float | None = None  # seconds; None: the plugin's own, else the dispatcher default
    handle_tool_error: Any = True

    _dispatcher: Dispatcher = PrivateAttr()

    @_model_validator(mode="before")
    @classmethod
    def _from_plugin(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("plugin"), Plugin):
            p: Plugin = data["plugin"]
            data = dict(data)
            data.setdefault("name", p.name)
            data.setdefault("description", p.description or f"{p.label}: {p.api}")
            data.setdefault("args_schema", _input_model(p))
        return data

    def model_post_init(self, context: Any) -> None:
        super().model_post_init(context)
        timeout = self.timeout or DEFAULT_TIMEOUT
        self._dispatcher = Dispatcher(Registry([self.plugin]), max_commands=1, timeout=timeout)

    def _run(
        self,
        *args: Any,
        run_manager: CallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> str:
        argument = args[0] if args else next(iter(kwargs.values()), "")
        [result] = self._dispatcher.run([Call(self.plugin.name, str(argument))])
        if result.error is not None:
            raise ToolException(f"{result.call.render()} failed: {result.error}")
        return format_value(result.value, result.layout)  # laid out by its shape (dispatch)


def plugin_as_langchain_tool(plugin: Plugin) -> BaseTool:
    """A LangChain tool that runs ``plugin`` (a plugin made by ``from_langchain`` gives back
    its original tool).

    >>> from plugins.registry import make_plugin
    >>> def shout(text: str) -> str:
    ...     '''Upper-case a text.'''
    ...     return text.upper()
    >>> t = plugin_as_langchain_tool(make_plugin(shout, "Shout"))
    >>> (t.name, t.invoke({"text": "hi"}))
    ('Shout', 'HI')
    """
    original = getattr(plugin.func, _TOOL_ATTR, None)
    if isinstance(original, BaseTool):
        return original
    return PluginTool(
        plugin=plugin,
        name=plugin.name,
        description=plugin.description or f"{plugin.label}: {plugin.api}",
        args_schema=_input_model(plugin),
    )


__all__ = [
    "PluginTool",
    "argument_name",
    "command_name",
    "format_value",
    "from_langchain",
    "plugin_as_langchain_tool",
]
