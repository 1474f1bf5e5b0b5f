"""What one browser session of the demo owns, with no Gradio in it: a ``Session`` (its Agent,
the chat as shown, its own search index and Search plugin) and ``SharedModel``, the factory that
gives every session a fresh Agent around one backend loaded once.

``demo.app`` wires these to the page; a test or another front end drives them directly.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.events import TurnDone
from agent.loop import Agent
from agent.options import load_agent
from demo.messages import (
    Message,
    TurnView,
    apply_event,
    escape_markdown,
    fail,
    stop,
    turn_messages,
    turn_summary,
    user_message,
)
from moss_core import protocol
from moss_core.errors import MossAgentError

if TYPE_CHECKING:
    from plugins.registry import Plugin
    from plugins.search import LocalIndex, WebSearch

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
UPLOAD_SUFFIXES = (".txt", ".md", ".jsonl")
SEARCH_MODES = ("local", "web")

AgentFactory = Callable[[], Agent]


# ---------------------------------------------------------------------------------------------
# Sessions: everything one browser tab owns
# ---------------------------------------------------------------------------------------------
@dataclass
class _Waiting:
    """A message sent while the model was busy."""

    text: str
    stopped: bool = False  # Stop was pressed before its turn began


class Session:
    """One browser session: an Agent, the chat as shown, and a private search index.

    >>> from agent.backends.scripted import ScriptedBackend
    >>> s = Session(Agent(ScriptedBackend([" Hi.<eot>\\n<|Commands|>: None<eoc>", " Hello!<eom>"])))
    >>> [m["content"] for m in list(s.chat("hi"))[-1]]
    ['hi', 'Hi\\\\.', 'Hello!']
    """

    def __init__(self, agent: Agent, *, corpora: Sequence[str | Path] | None = None) -> None:
        from plugins.search import SAMPLE_CORPUS, LocalIndex, WebSearch

        self.agent = agent
        self.messages: list[Message] = []  # the chat as displayed, failed turns included
        self.summary = ""  # the last turn's costs, one Markdown line
        self.search_mode = "local"
        # Per session, so one person's uploads never answer another person's searches. The
        # sample corpus is small (tens of documents): indexing it per session takes milliseconds.
        self.index: LocalIndex = LocalIndex()
        for corpus in (SAMPLE_CORPUS,) if corpora is None else corpora:
            self.index.add_path(corpus)
        self.web: WebSearch = WebSearch()
        self._search: Plugin | None = None  # this session's own Search plugin, once bound
        self._bind_search()
        self._stop = threading.Event()
        # Messages sent and not yet run: the page queues turns on the one model.
        self._pending: deque[_Waiting] = deque()
        self._pending_lock = threading.Lock()
        self.running = False  # a turn of this session is on the model now

    # -- chat -----------------------------------------------------------------------------------
    def chat(self, text: str) -> Iterator[list[Message]]:
        """Send ``text`` and run the next waiting turn (this one, unless others wait), yielding
        the whole chat after every event; never raises. ``submit`` + ``run_next`` in one."""
        self.submit(text)
        yield from self.run_next()

    def submit(self, text: str) -> list[Message]:
        """Put a message in line for the model and return the chat showing it (the page calls
        this at once, outside the queue, so the box empties and the message shows while the
        model is still busy)."""
        text = text.strip()
        if text:
            with self._pending_lock:
                self._pending.append(_Waiting(text))
        return self.shown()

    def shown(self) -> list[Message]:
        """The chat as the page shows it: finished and running turns, then waiting messages."""
        with self._pending_lock:
            waiting = list(self._pending)
        out = list(self.messages)
        for w in waiting:
            out.append(user_message(w.text))
            if w.stopped:
                out += turn_messages(stop(TurnView()))
        return out

    def run_next(self) -> Iterator[list[Message]]:
        """Run the oldest waiting message as a turn, yielding the chat after every event.

        A failed turn stays on screen with the error below it; the agent's history is unchanged
        (``Agent.stream`` only records completed turns), so the next turn is not confused by it.
        """
        with self._pending_lock:
            waiting = self._pending.popleft() if self._pending else None
            self._stop.clear()  # a Stop pressed before this turn began is not for it
        if waiting is None:
            yield self.shown()
            return
        before = [*self.messages, user_message(waiting.text)]
        if waiting.stopped:  # stopped while it waited: it never reaches the model
            self.messages = before + turn_messages(stop(TurnView()))
            yield self.shown()
            return
        self.messages = before
        yield self.shown()
        view = TurnView()
        self.running = True
        try:
            events = self.agent.stream(waiting.text)
            for event in events:
                view = apply_event(view, event)
                if isinstance(event, TurnDone):
                    self.summary = turn_summary(event.turn)
                elif self._stop.is_set():
                    events.close()  # the model stops here; the agent's history stays as it was
                    view = stop(view)
                self.messages = before + turn_messages(view)
                yield self.shown()
                if view.stopped:
                    return
        except Exception as exc:  # the page must survive anything the model or a plugin does
            if isinstance(exc, MossAgentError):
                log.warning("turn failed: %s", exc)
                reason = str(exc)
            else:
                log.exception("turn failed unexpectedly")
                reason = f"{type(exc).__name__}: {exc}. The conversation is unchanged; retry."
            self.messages = before + turn_messages(fail(view, reason))
            yield self.shown()
        finally:
            self.running = False

    def stop(self) -> list[Message]:
        """Stop the running turn at the model's next token (or once a running tool returns),
        and every message still waiting for the model; return the chat as it now shows.

        Stopped turns stay on screen, marked as stopped, and are not kept in the agent's
        history: the next turn's prompt does not contain them.
        """
        with self._pending_lock:
            self._stop.set()
            for w in self._pending:
                w.stopped = True
        return self.shown()

    def reset(self) -> None:
        """Start a new conversation; plugin switches, search mode and documents stay."""
        self.agent.reset()
        self.messages = []
        self.summary = ""

    # -- plugins --------------------------------------------------------------------------------
    def plugin_choices(self) -> list[tuple[str, str]]:
        """(label shown, plugin name) for every plugin, in the meta-instruction's order."""
        # The registry keeps import order, which changes with how plugins were loaded; the
        # switches follow the meta-instruction instead.
        ordered = sorted(self.agent.plugins, key=lambda p: protocol.meta_order(p.label))
        return [(self._switch_label(p), p.name) for p in ordered]

    def _switch_label(self, p: Plugin) -> str:
        # The model knows Search as "Web search" (MOSS's label, in the trained system text);
        # this session's Search may look in local documents instead, chosen under "Search".
        if p is self._search:
            return f"Search, local or web (see below) · {p.api}"
        return f"{p.label} · {p.api}"

    def enabled_plugins(self) -> list[str]:
        return [p.name for p in self.agent.plugins.enabled()]

    def set_enabled_plugins(self, names: Sequence[str]) -> None:
        """Enable exactly ``names``; the next turn's meta-instruction lists only those."""
        wanted = set(names)
        for p in self.agent.plugins:
            self.agent.plugins.set_enabled(p.name, p.name in wanted)

    # -- search -----------------------------------------------------------------------------------
    def set_search_mode(self, mode: str) -> None:
        if mode not in SEARCH_MODES:
            raise ValueError(f"search mode must be one of {SEARCH_MODES}, not {mode!r}")
        self.search_mode = mode

    def _bind_search(self) -> None:
        """Give this session's agent a Search plugin of its own, over this session's index or
        the web as the page's switch says (``plugins.search.make_search``). A Search that the
        agent factory supplied itself is left alone."""
        import plugins.search
        from plugins.search import make_search

        registry = self.agent.plugins
        if "Search" not in registry or registry.get("Search").func is not plugins.search.search:
            return
        mine = make_search(
            lambda: self.index if self.search_mode == "local" else self.web,
            unavailable='Web search is unavailable here (no network?). Switch Search to "local" '
            "to search this session's documents.",
        )
        registry.add(mine, replace_existing=True)
        self._search = mine

    def document_count(self) -> int:
        return self.index.count()

    def add_documents(self, paths: Sequence[str | Path]) -> str:
        """Index uploaded files (text only, size-limited); return what happened, in Markdown."""
        lines = []
        for path in paths:
            p = Path(path)
            try:
                added = self._add_document(p)
            except (MossAgentError, ValueError, OSError) as exc:
                lines.append(f"✗ {_plain(p.name)}: {_plain(str(exc))}")
            else:
                lines.append(f"✓ {_plain(p.name)}: {added} document{'s' if added != 1 else ''}")
        return "\n\n".join(lines)

    def _add_document(self, path: Path) -> int:
        if path.suffix.lower() not in UPLOAD_SUFFIXES:
            raise ValueError(f"only {', '.join(UPLOAD_SUFFIXES)} files can be added")
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise ValueError(
                f"{size / 1e6:.1f} MB is over the {MAX_UPLOAD_BYTES / 1e6:.0f} MB limit; split it"
            )
        data = path.read_bytes()
        # Parsed as text only: a binary file (NUL bytes, not UTF-8) is refused, never guessed at.
        if b"\x00" in data:
            raise ValueError("this is a binary file; upload plain text")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        return self.index.add_path(path)

    def close(self) -> None:
        self.index.close()

    # -- what the page shows about this session ---------------------------------------------
    def model_info(self) -> str:
        return describe_backend(self.agent.backend, self.agent.preset)

    def index_info(self) -> str:
        n = self.document_count()
        return f"📚 **{n}** document{'s' if n != 1 else ''} in this session's local index"


def describe_backend(backend: Any, preset: str = "") -> str:
    """One Markdown line naming the model, its adapter and device.

    >>> from agent.backends.scripted import ScriptedBackend
    >>> describe_backend(ScriptedBackend())
    '**Model:** `scripted` · adapter: none'
    """
    name = str(getattr(backend, "name", type(backend).__name__))
    # TransformersBackend names itself "transformers:<model>+<adapter>".
    model, _, adapter = name.partition("+")
    parts = [f"**Model:** `{model}`", f"adapter: `{adapter}`" if adapter else "adapter: none"]
    device = getattr(backend, "device", None)
    if device is not None:
        parts.append(f"device: {device}")
    if preset:
        parts.append(f"prompt preset: {preset}")
    return " · ".join(parts)


def _plain(text: str) -> str:
    """Text shown literally inside Markdown (file names and error messages)."""
    return escape_markdown(text)


# ---------------------------------------------------------------------------------------------
# The default agent: one model shared by all sessions
# ---------------------------------------------------------------------------------------------
class SharedModel:
    """An agent factory whose agents share one backend, loaded on first use.

    ``load`` builds a template agent once (the slow part: the model); every call then makes
    a fresh Agent, with its own history and plugin switches, around the same backend.

    >>> from agent.backends.scripted import ScriptedBackend
    >>> shared = SharedModel(lambda: Agent(ScriptedBackend()))
    >>> shared().backend is shared().backend
    True
    """

    def __init__(self, load: Callable[[], Agent]) -> None:
        self._load = load
        self._template: Agent | None = None
        self._lock = threading.Lock()

    def template(self) -> Agent:
        with self._lock:  # two first visitors must not load two models
            if self._template is None:
                self._template = self._load()
            return self._template

    def __call__(self) -> Agent:
        from plugins.registry import default_registry

        # Each session switches plugins on and off in a registry of its own.
        return self.template().copy(history=False, plugins=default_registry())


def default_agent_factory(
    model: str | None = None,
    adapter: str | None = None,
    device: str = "auto",
    *,
    base_only: bool = False,
    **settings: Any,
) -> SharedModel:
    """The agent ``moss-agent chat`` would make from the same flags, loaded once for all
    sessions (default: the embedded model with the shipped adapter). ``settings`` go to the
    Agent, as ``load_agent``'s do (``alternatives=0``, ``engine="transformers"``...)."""

    def load() -> Agent:
        return load_agent(
            model,
            adapter,
            base_only=base_only,
            device=device,
            **settings,
        )

    return SharedModel(load)


__all__ = [
    "MAX_UPLOAD_BYTES",
    "SEARCH_MODES",
    "UPLOAD_SUFFIXES",
    "AgentFactory",
    "Session",
    "SharedModel",
    "default_agent_factory",
    "describe_backend",
]
