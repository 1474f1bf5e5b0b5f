"""The small interface the Agent loop needs from a language model.

A backend turns a prompt (plain text, already in MOSS format) into generated text that ends at
the first of several stop strings. It streams text pieces and returns a ``Generation`` with the
token counts and timings of that call::

    gen = backend.stream(prompt, stop=["<eoc>"], max_new_tokens=64)
    for piece in gen: ...            # text pieces, never containing (part of) a stop string
    result = <StopIteration.value>   # a Generation; use ``run_stream`` or ``yield from`` to get it

Backends that keep state between calls (a KV cache) reuse the longest token prefix shared with
the previous call, so the Agent can always pass the whole prompt and let the backend decide.

A backend may also offer ``generate_batch`` (see ``BatchBackend``): several prompts decoded
together, in one pass of the model per token.
``generate_all`` uses it where it exists and falls back to one prompt after another.

A backend may also offer ``alternatives`` (see ``AlternativesBackend``): the few most likely
completions of one prompt, by beam search. The Agent asks for them when a turn's command fails
to run, and keeps a result two of them agree on (``agent.retry``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from moss_core.errors import BackendError

TextStream = Generator[str, None, "Generation"]


@dataclass(frozen=True)
class Generation:
    """What one generate call produced (the text excludes the stop string)."""

    text: str
    stop: str | None  # the stop string that ended generation, None when max_new_tokens ran out
    prompt_tokens: int  # tokens in the whole prompt
    prefill_tokens: int  # prompt tokens actually encoded by this call (the rest came from cache)
    completion_tokens: int
    prefill_seconds: float
    decode_seconds: float


@runtime_checkable
class Backend(Protocol):
    """What the Agent needs: a name for logs, a context size, token counting and streaming."""

    name: str
    context_length: int  # prompt + completion tokens the model accepts

    def count_tokens(self, text: str) -> int: ...

    def stream(self, prompt: str, *, stop: Sequence[str], max_new_tokens: int) -> TextStream: ...


@runtime_checkable
class BatchBackend(Backend, Protocol):
    """A Backend that can also decode several prompts in one batch."""

    def generate_batch(
        self, prompts: Sequence[str], *, stop: Sequence[str], max_new_tokens: int
    ) -> list[Generation]: ...


@runtime_checkable
class AlternativesBackend(Backend, Protocol):
    """A Backend that can also return the ``n`` most likely completions of one prompt."""

    def alternatives(
        self, prompt: str, *, stop: Sequence[str], max_new_tokens: int, n: int
    ) -> list[Generation]: ...


@runtime_checkable
class SamplesBackend(Backend, Protocol):
    """A Backend that can also draw ``n`` completions of one prompt at a temperature."""

    def samples(
        self,
        prompt: str,
        *,
        stop: Sequence[str],
        max_new_tokens: int,
        n: int,
        temperature: float,
        top_p: float,
        seed: int,
    ) -> list[Generation]: ...


def constrains(backend: object) -> bool:
    """Whether ``backend``'s ``stream``, ``generate_batch``, ``alternatives`` and ``samples`` take
    ``grammar=`` (llguidance grammar text, ``agent.grammar``) and hold what they write to it.

    A backend says so with a class attribute ``constrains = True``; the Agent sends a grammar
    to no other, so a Backend of one's own needs nothing new.
    """
    return getattr(backend, "constrains", False) is True


def generate_all(
    backend: Backend,
    prompts: Sequence[str],
    *,
    stop: Sequence[str],
    max_new_tokens: int,
    grammar: str | None = None,
) -> list[Generation]:
    """One ``Generation`` per prompt, in order: batched where the backend can, else in turn.
    ``grammar`` goes to backends that ``constrains`` says take one."""
    if not prompts:
        return []
    extra: dict[str, Any] = {"grammar": grammar} if grammar and constrains(backend) else {}
    if isinstance(backend, BatchBackend):
        return backend.generate_batch(prompts, stop=stop, max_new_tokens=max_new_tokens, **extra)
    return [
        run_stream(backend.stream(p, stop=stop, max_new_tokens=max_new_tokens, **extra))
        for p in prompts
    ]


def run_stream(stream: TextStream, on_text: Callable[[str], None] | None = None) -> Generation:
    """Drain a backend stream, calling ``on_text`` per piece, and return its ``Generation``."""
    while True:
        try:
            piece = next(stream)
        except StopIteration as done:
            result: Generation = done.value
            return result
        if on_text is not None:
            on_text(piece)


class StopMatcher:
    """Cuts streamed text at the first stop string without ever emitting part of one.

    Text that could still grow into a stop string is held back until it cannot::

        m = StopMatcher(["<eoc>"])
        m.feed("Calc <eo")  -> "Calc "   (holds "<eo")
        m.feed("c> junk")   -> ""        and m.stop == "<eoc>"
    """

    def __init__(self, stop: Sequence[str]) -> None:
        self._stops = [s for s in stop if s]
        self._held = ""
        self.text = ""  # everything emitted so far
        self.stop: str | None = None

    @property
    def done(self) -> bool:
        return self.stop is not None

    def feed(self, piece: str) -> str:
        if self.stop is not None:
            return ""
        buf = self._held + piece
        first: tuple[int, str] | None = None
        for s in self._stops:
            i = buf.find(s)
            if i >= 0 and (first is None or i < first[0]):
                first = (i, s)
        if first is not None:
            out = buf[: first[0]]
            self.stop = first[1]
            self._held = ""
            self.text += out
            return out
        keep = 0
        for s in self._stops:
            for k in range(min(len(s) - 1, len(buf)), 0, -1):
                if buf.endswith(s[:k]):
                    keep = max(keep, k)
                    break
        out, self._held = (buf[: len(buf) - keep], buf[len(buf) - keep :]) if keep else (buf, "")
        self.text += out
        return out

    def flush(self) -> str:
        """At the end of generation, release held text that never became a stop string."""
        out, self._held = self._held, ""
        self.text += out
        return out


# -- pieces both local engines share ---------------------------------------------------------


class Detokenizer(Protocol):
    """Turns token ids into text pieces incrementally; ``flush`` gives what it held back."""

    def push(self, token: int) -> str: ...

    def flush(self) -> str: ...


def check_prompt(ids: Sequence[int], max_new_tokens: int, backend: Backend, what: str) -> None:
    """Refuse an empty prompt, or one that leaves no room for ``max_new_tokens``."""
    if not ids:
        raise BackendError(f"{what} is empty after tokenization; pass some text")
    if len(ids) + max_new_tokens > backend.context_length:
        raise BackendError(
            f"{what} ({len(ids)} tokens) + max_new_tokens ({max_new_tokens}) exceeds the "
            f"context length of {backend.name} ({backend.context_length}); shorten the history "
            "or lower max_new_tokens"
        )


def check_sampling(n: int, temperature: float, top_p: float) -> None:
    """Refuse ``samples`` arguments that would not draw: no rows, no temperature, no mass."""
    if n < 1:
        raise ValueError(f"samples needs n >= 1, got {n}")
    if not temperature > 0:
        raise ValueError(
            f"samples needs a temperature above 0, got {temperature}; "
            "for the most likely completions call alternatives()"
        )
    if not 0 < top_p <= 1:
        raise ValueError(f"samples needs 0 < top_p <= 1, got {top_p}")


def common_prefix(rows: Sequence[Sequence[int]], limit: int) -> int:
    """How many leading ids all ``rows`` share, at most ``limit``.

    >>> common_prefix([[1, 2, 3], [1, 2, 4]], limit=5)
    2
    """
    first = rows[0]
    n = 0
    while n < limit and all(r[n] == first[n] for r in rows):
        n += 1
    return n


def finish(matcher: StopMatcher, decoder: Detokenizer, eos: str | None) -> str:
    """End a generation that no stop string ended; return the text it still had to give.

    Releases what was held back (an incomplete character, a would-be stop string), and reports
    an end-of-text token ``eos`` as the stop, since it ends generation like a stop string."""
    if matcher.done:
        return ""
    tail = matcher.feed(decoder.flush())
    tail += "" if matcher.done else matcher.flush()
    matcher.stop = matcher.stop or eos
    return tail


def stream_still_open(what: str) -> BackendError:
    """The error for a call made while this thread still holds an open stream (``TurnLock``)."""
    return BackendError(
        "a previous stream of this backend is still open in this thread; drain it or call its "
        f"close() before {what}"
    )
