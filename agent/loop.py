"""The Agent: history, phase 1 -> dispatch -> phase 2, events, save and load.

One user turn::

    prompt = meta-instruction + earlier turns + "<|Human|>: text<eoh>\\n<|Inner Thoughts|>:"
    phase 1: the model writes thoughts and a Commands line, until <eoc>
    dispatch: the plugins run; their results are formatted as MOSS's Results block
    (if a command failed: the model's next most likely phase-1 outputs, see ``agent.retry``)
    phase 2: prompt + repaired phase-1 text + Results + "<|MOSS|>:", the model writes the reply

Each phase passes the whole prompt to the backend; backends with a KV cache encode only the
part they have not seen. History changes only when a turn completes: a failed turn leaves it
exactly as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

from agent import retry, voting
from agent.backends.base import (
    AlternativesBackend,
    Backend,
    Generation,
    SamplesBackend,
    constrains,
)
from agent.clip import fit_results
from agent.dispatch import DEFAULT_MAX_COMMANDS, DEFAULT_TIMEOUT, Dispatcher, capabilities
from agent.events import Event, Phase, Token, TurnDone
from agent.files import write_atomic
from agent.grammar import phase1_grammar
from agent.retry import DEFAULT_ALTERNATIVES
from agent.turn import CommandRecord, PhaseStats, Turn
from agent.turnlock import TurnLock
from moss_core import protocol
from moss_core.errors import BackendError, ConversationError, InputTooLongError, MossAgentError
from plugins.registry import Registry, default_registry

log = logging.getLogger(__name__)

# How the system text shows a switched-off plugin (see Agent's ``disabled_tools``).
DisabledTools = Literal["list", "omit"]

SAVE_FORMAT = "moss-agent/conversation"
SAVE_VERSION = 1
# Results are appended between the phases; keep room for them when fitting history into context.
RESULTS_RESERVE_TOKENS = 400


@dataclass(frozen=True)
class GenerateRequest:
    """What a turn asks of the model at one phase (see ``Agent._steps``)."""

    prompt: str
    stop: tuple[str, ...]
    max_new_tokens: int
    phase: Phase
    grammar: str | None = None  # llguidance grammar text the output is held to (agent.grammar)


@dataclass(frozen=True)
class AlternativesRequest:
    """A turn asking for the model's ``n`` most likely phase-1 outputs (see ``agent.retry``)."""

    prompt: str
    stop: tuple[str, ...]
    max_new_tokens: int
    n: int
    grammar: str | None = None
    vote: bool = False  # for a vote (agent.voting), not the retry of a failed command
    draw: voting.Draw = "beams"  # "samples": n draws at voting.SAMPLE_TEMPERATURE instead


Request = GenerateRequest | AlternativesRequest


def _stats(gen: Generation) -> PhaseStats:
    return PhaseStats(
        prompt_tokens=gen.prompt_tokens,
        prefill_tokens=gen.prefill_tokens,
        completion_tokens=gen.completion_tokens,
        prefill_seconds=gen.prefill_seconds,
        decode_seconds=gen.decode_seconds,
        stop=gen.stop,
    )


class Agent:
    """A MOSS-format conversation with a model and its plugins.

    >>> from agent.backends.scripted import ScriptedBackend
    >>> agent = Agent(ScriptedBackend([' Add them.<eot>\\n<|Commands|>: Calculate("2+3")<eoc>',
    ...                                ' 2 + 3 = 5.<eom>']))
    >>> agent.chat("What is 2+3?").reply
    '2 + 3 = 5.'
    """

    def __init__(
        self,
        backend: Backend,
        *,
        plugins: Registry | None = None,
        meta_instruction: str | None = None,
        preset: protocol.Preset = "moss",
        max_commands: int = DEFAULT_MAX_COMMANDS,
        timeout: float = DEFAULT_TIMEOUT,
        max_thought_tokens: int = 256,
        max_reply_tokens: int = 512,
        alternatives: int = DEFAULT_ALTERNATIVES,
        disabled_tools: DisabledTools = "list",
        votes: int = 0,
        grounding: voting.Grounding = "numbers",
        constrain: bool = True,
        vote_draw: voting.Draw = "beams",
    ) -> None:
        """``plugins`` defaults to every installed plugin; pass ``meta_instruction`` to fix the
        system text (it is otherwise rebuilt each turn from ``preset`` and the enabled plugins).

        ``disabled_tools``: how the system text shows a plugin switched off. ``"list"`` writes
        ``- Calculator: disabled.`` as MOSS does; ``"omit"`` leaves it out while any tool is
        on, so the model sees only the tools it may use (a call to a disabled one is still
        refused), and lists them all when every one is off. ``default()`` omits: the shipped
        adapter, shown one math tool disabled, refuses questions for the other tools too
        (README, "Switching tools off"). With ``preset="moss"`` MOSS's six labels are listed
        whatever this says, as MOSS was trained.

        ``alternatives``: when a command fails (an error, an unknown command; not a timeout or
        a switched-off tool, see ``retry.worth_retrying``), ask the backend for this many most
        likely phase-1 outputs by beam search and keep a result two of them reach
        (``agent.retry``); 0 turns this off. Backends without ``alternatives`` (see
        ``AlternativesBackend``) never retry.

        ``votes``: for a turn whose line calls a grounded plugin (Calculate, Solve), also rank
        this many phase-1 outputs by beam search, run the admissible ones, and keep the values
        most of them reach, ties to the greedy line (``agent.voting``); for those turns it
        replaces the retry above. 0 (the default) turns it off. ``grounding``: which
        candidate lines may vote: ``"numbers"`` (every number of a grounded plugin's argument
        from the conversation or a short list of constants), ``"single-use"`` (also no number
        of the question used more often than written) or ``"off"``. ``vote_draw``: where the
        candidates come from: ``"beams"``, the model's most likely lines, or ``"samples"``,
        lines drawn at a temperature (seeded, so a turn repeats); backends without
        ``alternatives`` or ``samples`` (see ``SamplesBackend``) do not vote.

        ``constrain``: hold phase 1 to its grammar while the model writes it (``agent.grammar``):
        free thoughts, then ``None`` or calls of enabled plugins only, each argument in its
        plugin's grammar, so the line always parses. Backends that cannot (see
        ``agent.backends.base.constrains``) decode freely whatever this says."""
        if alternatives < 0:
            raise ValueError(f"alternatives must be 0 or more, got {alternatives}.")
        if isinstance(votes, bool) or not isinstance(votes, int) or votes < 0:
            raise ValueError(f"votes must be a whole number of 0 or more, got {votes!r}.")
        if vote_draw not in voting.DRAWS:
            draws = ", ".join(repr(d) for d in voting.DRAWS)
            raise ValueError(f"vote_draw must be one of {draws}, got {vote_draw!r}.")
        if grounding not in voting.GROUNDING_MODES:
            modes = ", ".join(repr(m) for m in voting.GROUNDING_MODES)
            raise ValueError(f"grounding must be one of {modes}, got {grounding!r}.")
        if disabled_tools not in get_args(DisabledTools):
            raise ValueError(f"disabled_tools must be 'list' or 'omit', got {disabled_tools!r}.")
        if preset not in get_args(protocol.Preset):
            raise ValueError(
                f"preset must be one of {', '.join(get_args(protocol.Preset))}, got {preset!r}."
            )
        for name, value in (
            ("max_thought_tokens", max_thought_tokens),
            ("max_reply_tokens", max_reply_tokens),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}.")
        self.backend = backend
        self.plugins = plugins if plugins is not None else default_registry()
        self.fixed_meta_instruction = meta_instruction
        self.preset: protocol.Preset = preset
        self.dispatcher = Dispatcher(self.plugins, max_commands=max_commands, timeout=timeout)
        self.max_thought_tokens = max_thought_tokens
        self.max_reply_tokens = max_reply_tokens
        self.alternatives = alternatives
        self.votes = votes
        self.grounding: voting.Grounding = grounding
        self.vote_draw: voting.Draw = vote_draw
        self.constrain = bool(constrain)
        self._grammars: dict[tuple[str, ...], str] = {}  # by the enabled plugins' names
        self.disabled_tools: DisabledTools = disabled_tools
        self.history: list[Turn] = []
        self._turns = TurnLock(_still_open)  # one turn at a time per Agent

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        model: str | os.PathLike[str] | None = None,
        adapter: str | os.PathLike[str] | None = None,
        *,
        engine: str | None = None,
        device: str = "auto",
        dtype: str | None = None,
        **kwargs: Any,
    ) -> Agent:
        """A local model (None: the embedded one; a ``.gguf`` file; any Hugging Face causal LM
        by hub id or folder), with an optional PEFT LoRA adapter.

        ``engine`` is "llama.cpp", "transformers" or None, which picks llama.cpp where it is
        installed and can run the model (``agent.engine.pick_engine``). For MOSS's own
        ``fnlp/moss-moon-003-sft-plugin`` keep the default ``preset="moss"``: it renders the
        meta-instruction byte-exact as that model was trained with it. That model ships custom
        code, so also pass ``trust_remote_code=True``. With an ``adapter``, the preset defaults
        to the one it was trained with (its ``moss_agent.json``, as ``moss-agent train`` writes
        it; "short" where it does not say).
        """
        from agent.engine import load_backend

        if adapter is not None and "preset" not in kwargs:
            from agent.shipped import adapter_preset

            kwargs["preset"] = adapter_preset(adapter)

        backend_kw = {k: kwargs.pop(k) for k in ("trust_remote_code",) if k in kwargs}
        backend = load_backend(
            model, adapter, engine=engine, device=device, dtype=dtype, **backend_kw
        )
        return cls(backend, **kwargs)

    @classmethod
    def default(cls, **kwargs: Any) -> Agent:
        """The embedded default model (SmolLM2-135M-Instruct) with the shipped LoRA adapter,
        on llama.cpp where it is installed (``engine="transformers"`` to choose).

        The first call reads the model out of the wheel shipped on PyPI and caches it (see
        ``agent.models``).
        """
        from agent.shipped import default_adapter

        adapter = default_adapter()
        if adapter is None:
            log.warning(
                "No default adapter is installed: running the base model, which rarely uses its "
                "tools. `make adapter` trains one."
            )
            return cls.from_pretrained(None, preset="short", **kwargs)
        kwargs.setdefault("preset", adapter.preset)
        kwargs.setdefault("votes", voting.DEFAULT_VOTES)
        kwargs.setdefault("disabled_tools", "omit")
        return cls.from_pretrained(None, adapter=adapter.path, **kwargs)

    def copy(self, *, history: bool = True, plugins: Registry | None = None) -> Agent:
        """A new Agent on the same backend, with the same settings.

        Its history starts as a copy of this one's (or empty with ``history=False``) and goes
        its own way from there. The plugin registry and the dispatcher are shared (a plugin
        switched off in one is off in both) unless ``plugins`` gives the copy a registry of its
        own. ``agent.batch.chat_batch`` runs turns of such copies together.
        """
        twin = Agent(
            self.backend,
            plugins=self.plugins if plugins is None else plugins,
            meta_instruction=self.fixed_meta_instruction,
            preset=self.preset,
            max_commands=self.dispatcher.max_commands,
            timeout=self.dispatcher.timeout,
            max_thought_tokens=self.max_thought_tokens,
            max_reply_tokens=self.max_reply_tokens,
            alternatives=self.alternatives,
            disabled_tools=self.disabled_tools,
            votes=self.votes,
            grounding=self.grounding,
            constrain=self.constrain,
            vote_draw=self.vote_draw,
        )
        if plugins is None:
            twin.dispatcher = self.dispatcher  # it keeps no state between turns
        if history:
            with self._turns.hold("copy()"):
                twin.history = list(self.history)  # a Turn is never changed once made
        return twin

    # -- the turn -----------------------------------------------------------------------------
    @property
    def meta_instruction(self) -> str:
        """The system text the next turn starts with."""
        if self.fixed_meta_instruction is not None:
            return self.fixed_meta_instruction
        caps = capabilities(self.plugins)
        if self.disabled_tools == "omit" and any(c.enabled for c in caps):
            # With every tool off they are listed: the adapter was trained on that case
            # (all_off) and writes fewer commands then (13 of 100 turns, against 56 omitted).
            caps = [c for c in caps if c.enabled]
        return protocol.build_meta_instruction(caps, self.preset)

    def chat(self, text: str) -> Turn:
        """Run one turn and return it; raises ``BackendError`` (history unchanged) on failure."""
        for event in self.stream(text):
            if isinstance(event, TurnDone):
                return event.turn
        raise MossAgentError("the turn ended without a result")  # unreachable by construction

    def stream(self, text: str) -> Generator[Event, None, None]:
        """Run one turn, yielding events as they happen (see ``agent.events``).

        The turn holds the Agent until the generator is exhausted or closed; leaving it early
        (``break``, ``close()``) ends the turn and keeps history as it was.
        """
        if not isinstance(text, str):  # said now, not at the first next()
            raise TypeError(f"Agent.chat takes a str, got {type(text).__name__}.")
        return self._held_turn(text)

    def _held_turn(self, text: str) -> Generator[Event, None, None]:
        with self._turns.hold("a new turn"):
            yield from self._turn(text)

    def _turn(self, text: str) -> Generator[Event, None, None]:
        """Drive ``_steps``, streaming each generation from the backend."""
        steps = self._steps(text)
        sent: Generation | list[Generation] | None = None
        while True:
            try:
                item = steps.send(sent)
            except StopIteration:
                return
            if isinstance(item, GenerateRequest):
                sent = yield from self._generate(
                    item.prompt, item.stop, item.max_new_tokens, item.phase, item.grammar
                )
            elif isinstance(item, AlternativesRequest):
                sent = self._alternatives(item)
            else:
                sent = None
                yield item

    def _steps(
        self, text: str
    ) -> Generator[Event | Request, Generation | list[Generation] | None, None]:
        """One turn as a coroutine: it yields events, and a ``GenerateRequest`` wherever the
        model must write; whoever drives it sends back the ``Generation`` (for an
        ``AlternativesRequest``, the list of them). ``_turn`` streams each
        one; ``agent.batch.chat_batch`` runs the requests of many turns as one batch."""
        started = time.perf_counter()
        human = protocol.neutralize(_clean(text))
        prompt = self._fit_prompt(human)

        grammar = self._phase1_grammar()
        ask1 = GenerateRequest(
            prompt, protocol.PHASE1_STOP, self.max_thought_tokens, "thoughts", grammar
        )
        gen1 = cast(Generation, (yield ask1))
        phase1 = protocol.parse_phase1(gen1.text)

        tools_started = time.perf_counter()
        results = yield from self.dispatcher.stream(phase1.parsed.calls)
        retried_from = None
        if self._can_vote(phase1, results):
            ask = AlternativesRequest(
                prompt,
                protocol.PHASE1_STOP,
                self.max_thought_tokens,
                self.votes,
                grammar,
                vote=True,
                draw=self.vote_draw,
            )
            readings = cast(list[Generation], (yield ask))
            first = retry.Kept(0, phase1, results, gen1)
            sources = [human, *(t for turn in self.history for t in _numbers_said(turn))]
            kept = yield from voting.elect(
                readings, first, self.dispatcher, sources, human, self.grounding
            )
            if kept is not None:
                retried_from = phase1.commands
                phase1, results, gen1 = kept.phase1, kept.results, kept.generation
                log.info("voted %s over %s (reading %d)", phase1.commands, retried_from, kept.rank)
        elif self._can_retry() and retry.worth_retrying(results):
            ask = AlternativesRequest(
                prompt, protocol.PHASE1_STOP, self.max_thought_tokens, self.alternatives, grammar
            )
            readings = cast(list[Generation], (yield ask))
            kept = yield from retry.vote(readings, phase1, human, self.dispatcher)
            if kept is not None:
                retried_from = phase1.commands
                phase1, results, gen1 = kept.phase1, kept.results, kept.generation
                log.info("%s failed; kept reading %d, %s", retried_from, kept.rank, phase1.commands)
        problems = list(phase1.problems)
        if gen1.stop is None:
            problems.append(f"phase 1 hit max_thought_tokens={self.max_thought_tokens}")
        if phase1.parsed.errors and not phase1.parsed.calls:
            problems.append("unreadable Commands line treated as None")
        tools_seconds = time.perf_counter() - tools_started
        # The prompt was fitted with RESULTS_RESERVE_TOKENS for results; a plugin may return
        # far more. Cut it to the room left, so the turn still has its reply.
        before_results = prompt + protocol.results_prefix(phase1.thoughts, phase1.commands, "")
        room = (
            self.backend.context_length
            - self.backend.count_tokens(before_results)
            - self.max_reply_tokens
        )
        results, cut = fit_results(results, room, self.backend.count_tokens)
        if cut is not None:
            problems.append(cut)
        results_text = protocol.format_results(results)

        prompt2 = prompt + protocol.results_prefix(phase1.thoughts, phase1.commands, results_text)
        ask2 = GenerateRequest(prompt2, protocol.PHASE2_STOP, self.max_reply_tokens, "reply")
        gen2 = cast(Generation, (yield ask2))
        reply, reply_problems = protocol.parse_reply(gen2.text)
        problems += reply_problems
        if gen2.stop is None:
            problems.append(f"reply hit max_reply_tokens={self.max_reply_tokens}")
        for p in problems:
            log.info("repaired model output: %s", p)

        shown = protocol.format_results
        turn = Turn(
            human=human,
            reply=reply,
            thoughts=phase1.thoughts,
            commands_text=phase1.commands,
            results_text=results_text,
            commands=[
                CommandRecord(
                    name=r.call.name,
                    argument=r.call.argument,
                    result=shown([r]),
                    error=r.error,
                    duration=r.duration,
                    refused=r.refused,
                )
                for r in results
            ],
            thoughts_stats=_stats(gen1),
            reply_stats=_stats(gen2),
            tools_seconds=tools_seconds,
            seconds=time.perf_counter() - started,
            problems=problems,
            retried_from=retried_from,
        )
        self.history.append(turn)
        yield TurnDone(turn)

    def _can_vote(self, phase1: protocol.Phase1, results: list[protocol.CommandResult]) -> bool:
        draws = SamplesBackend if self.vote_draw == "samples" else AlternativesBackend
        if self.votes < 1 or not isinstance(self.backend, draws):
            return False
        if any(r.timed_out or r.unavailable or r.switched_off for r in results):
            return False  # another line would wait, or be refused, the same way
        return voting.calls_grounded_tool(phase1, self.dispatcher)

    def _phase1_grammar(self) -> str | None:
        """The grammar of phase 1 for the plugins enabled now, or None when not constraining."""
        if not self.constrain or not constrains(self.backend):
            return None
        enabled = self.plugins.enabled()
        key = tuple(p.name for p in enabled)
        if key not in self._grammars:
            self._grammars[key] = phase1_grammar(enabled, self.dispatcher.max_commands)
        return self._grammars[key]

    def _can_retry(self) -> bool:
        return self.alternatives > 0 and isinstance(self.backend, AlternativesBackend)

    def _alternatives(self, ask: AlternativesRequest) -> list[Generation]:
        extra: dict[str, Any] = {"grammar": ask.grammar} if ask.grammar else {}
        try:
            if ask.draw == "samples":
                return cast(SamplesBackend, self.backend).samples(
                    ask.prompt,
                    stop=ask.stop,
                    max_new_tokens=ask.max_new_tokens,
                    n=ask.n,
                    temperature=voting.SAMPLE_TEMPERATURE,
                    top_p=voting.SAMPLE_TOP_P,
                    seed=voting.SAMPLE_SEED,
                    **extra,
                )
            return cast(AlternativesBackend, self.backend).alternatives(
                ask.prompt, stop=ask.stop, max_new_tokens=ask.max_new_tokens, n=ask.n, **extra
            )
        except MossAgentError:
            raise
        except Exception as exc:
            doing = "drawing" if ask.draw == "samples" else "ranking"
            what, off = (
                ("candidates to vote on", "votes")
                if ask.vote
                else ("alternatives to a failed command", "alternatives")
            )
            raise BackendError(
                f"The {self.backend.name} backend failed while {doing} {what}: "
                f"{type(exc).__name__}: {exc}. The conversation is unchanged; retry the turn, "
                f"or pass Agent({off}=0)."
            ) from exc

    def _generate(
        self,
        prompt: str,
        stop: tuple[str, ...],
        max_new_tokens: int,
        phase: Phase,
        grammar: str | None = None,
    ) -> Generator[Event, None, Generation]:
        extra: dict[str, Any] = {"grammar": grammar} if grammar else {}
        try:
            stream = self.backend.stream(prompt, stop=stop, max_new_tokens=max_new_tokens, **extra)
            while True:
                try:
                    piece = next(stream)
                except StopIteration as done:
                    gen: Generation = done.value
                    return gen
                if piece:
                    yield Token(phase, piece)
        except MossAgentError:
            raise
        except Exception as exc:
            raise BackendError(
                f"The {self.backend.name} backend failed during the {phase} phase: "
                f"{type(exc).__name__}: {exc}. The conversation is unchanged; retry the turn."
            ) from exc

    def _fit_prompt(self, human: str) -> str:
        """Drop the oldest turns from the prompt (not from history) until the turn fits."""
        meta = self.meta_instruction
        budget = (
            self.backend.context_length
            - self.max_thought_tokens
            - self.max_reply_tokens
            - RESULTS_RESERVE_TOKENS
        )
        history = [t.exchange for t in self.history]
        prompt = protocol.render_prompt(meta, history, human)
        first = 0
        while self.backend.count_tokens(prompt) > budget:
            if first >= len(history):
                raise InputTooLongError(
                    f"The message is too long for {self.backend.name}: with the instructions it "
                    f"takes {self.backend.count_tokens(prompt)} tokens and at most {budget} fit. "
                    "Shorten the message or lower max_reply_tokens."
                )
            first += 1
            prompt = protocol.render_prompt(meta, history[first:], human)
        if first:
            log.warning(
                "Context full: the oldest %d turn(s) are left out of the prompt (kept in history).",
                first,
            )
        return prompt

    # -- async ----------------------------------------------------------------------------------
    async def achat(self, text: str) -> Turn:
        """``chat`` without blocking the event loop (the model runs in a worker thread).

        Cancelling it ends the turn, as leaving ``astream`` does: history stays as it was.
        """
        async for event in self.astream(text):
            if isinstance(event, TurnDone):
                return event.turn
        raise MossAgentError("the turn ended without a result")  # unreachable by construction

    async def astream(self, text: str) -> AsyncIterator[Event]:
        """``stream`` for asyncio: events arrive as the worker thread produces them.

        A consumer that leaves early (``break``, ``aclose()``, or its task cancelled, as when
        a client disconnects) ends the turn: the worker stops at the model's next token, or
        once a running plugin returns, and the history stays as it was.
        """
        if not isinstance(text, str):
            raise TypeError(f"Agent.chat takes a str, got {type(text).__name__}.")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        left = threading.Event()

        def send(kind: str, item: Any) -> None:
            # A RuntimeError: the consumer's loop has closed, so nobody is listening.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, (kind, item))

        def work() -> None:
            events = self.stream(text)
            try:
                for event in events:
                    if left.is_set():
                        break
                    send("event", event)
            except BaseException as exc:  # re-raised in the consumer's task
                send("error", exc)
            finally:
                # Closing the turn's generator stops the model where it is; the turn is
                # only added to history at its very end, so an abandoned turn leaves none.
                events.close()
                send("end", None)

        worker = loop.run_in_executor(None, work)
        try:
            while True:
                kind, item = await queue.get()
                if kind == "event":
                    yield item
                elif kind == "error":
                    await worker
                    raise item
                else:
                    break
            await worker
        finally:
            left.set()

    # -- history --------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the conversation (plugins and settings stay)."""
        with self._turns.hold("reset()"):
            self.history.clear()

    def transcript(self) -> str:
        """The conversation so far as the model sees it."""
        meta = self.meta_instruction
        return meta + "".join(protocol.render_exchange(t.exchange) for t in self.history)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the conversation as JSON, atomically: a crash mid-save keeps the old file."""
        data = {
            "format": SAVE_FORMAT,
            "version": SAVE_VERSION,
            "meta_instruction": self.fixed_meta_instruction,
            "preset": self.preset,
            "plugins": {p.name: self.plugins.is_enabled(p.name) for p in self.plugins},
            "turns": [t.to_dict() for t in self.history],
        }
        target = Path(path)
        if target.is_dir():
            raise ConversationError(
                f"{target} is a folder: give a file name, such as {target / 'conversation.json'}."
            )
        try:
            write_atomic(target, json.dumps(data, ensure_ascii=False, indent=1), private=True)
        except OSError as exc:
            raise ConversationError(
                f"Could not save the conversation to {target}: {exc.strerror or exc}."
            ) from exc

    def load_history(self, path: str | os.PathLike[str]) -> None:
        """Replace this agent's conversation with a saved one (plugin switches included)."""
        data = read_conversation(Path(path))
        with self._turns.hold("load_history()"):
            self.history = [Turn.from_dict(t) for t in data["turns"]]
            self.fixed_meta_instruction = data.get("meta_instruction")
            self.preset = data.get("preset", self.preset)
            for name, enabled in data.get("plugins", {}).items():
                if name in self.plugins:
                    self.plugins.set_enabled(name, bool(enabled))
                else:
                    log.warning("saved conversation used plugin %s, which is not installed", name)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], backend: Backend | None = None, **kwargs: Any
    ) -> Agent:
        """An agent continuing a saved conversation; the default model unless ``backend``.

        The file's meta-instruction, preset and plugin switches are restored, except that a
        ``meta_instruction`` or ``preset`` given here wins over the file's.
        """
        read_conversation(Path(path))  # fail on a bad file before loading any model
        agent = cls(backend, **kwargs) if backend is not None else cls.default(**kwargs)
        agent.load_history(path)
        if "meta_instruction" in kwargs:
            agent.fixed_meta_instruction = kwargs["meta_instruction"]
        if "preset" in kwargs:
            agent.preset = kwargs["preset"]
        return agent


def _numbers_said(turn: Turn) -> tuple[str, str, str]:
    """What an earlier turn wrote that a later line may take numbers from."""
    return turn.human, turn.results_text, turn.reply


def _still_open(what: str) -> MossAgentError:
    return MossAgentError(
        "This Agent's previous turn is still open in this thread: a stream() that was neither "
        f"read to its end nor closed. Finish it, or call its close(), before {what}."
    )


def _clean(text: str) -> str:
    # Control characters other than newline and tab confuse tokenizers and terminals alike.
    return "".join(ch for ch in text if ch in "\n\t" or (ch >= " " and ch != "\x7f")).strip()


def read_conversation(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConversationError(f"No saved conversation at {path}.") from None
    except IsADirectoryError:
        raise ConversationError(f"{path} is a folder: give a saved conversation file.") from None
    except OSError as exc:
        raise ConversationError(f"Could not read {path}: {exc.strerror or exc}.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConversationError(f"{path} is not a saved conversation (bad JSON: {exc}).") from exc
    if not isinstance(data, dict) or data.get("format") != SAVE_FORMAT:
        raise ConversationError(
            f'{path} is not a moss-agent conversation: expected "format": "{SAVE_FORMAT}".'
        )
    if data.get("version") != SAVE_VERSION:
        raise ConversationError(
            f"{path} has version {data.get('version')!r}; this moss-agent reads version "
            f"{SAVE_VERSION}. Upgrade moss-agent to read it."
        )
    if not isinstance(data.get("turns"), list):
        raise ConversationError(f"{path} has no list of turns.")
    for i, t in enumerate(data["turns"], 1):
        try:
            Turn.from_dict(t)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise ConversationError(
                f"{path} has a malformed turn (number {i}): {type(exc).__name__}: {exc}"
            ) from exc
    plugins = data.get("plugins", {})
    if not isinstance(plugins, dict) or not all(isinstance(v, bool) for v in plugins.values()):
        raise ConversationError(
            f'{path}: "plugins" must map plugin names to true or false, '
            f'as in {{"Search": false}}; it is {json.dumps(plugins)[:80]}.'
        )
    if not isinstance(data.get("meta_instruction"), str | None):
        raise ConversationError(f'{path}: "meta_instruction" must be text or null.')
    presets = get_args(protocol.Preset)
    if data.get("preset", presets[0]) not in presets:
        raise ConversationError(f'{path}: "preset" must be one of {", ".join(presets)}.')
    return data
