"""A deterministic backend that plays back scripted completions, for testing the Agent loop.

Each ``stream`` call takes the next scripted item: a string is streamed in small pieces and cut
at the first stop string (what follows it is discarded, as a real model's text after a stop
string never reaches the Agent); an exception is raised, to test that a failed turn rolls back::

    backend = ScriptedBackend([" I should calculate.<eot>", BackendError("server died")])
    run_stream(backend.stream(prompt, stop=["<eot>"], max_new_tokens=64)).text
    # -> " I should calculate."; the next call raises BackendError("server died")
    backend.prompts  # the prompts it was given, in order

Tokens are counted the same way for prompts and completions: a token is up to four
non-space characters with the whitespace before them, so counts are stable and easy to predict.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agent.backends.base import Generation, StopMatcher, TextStream, check_sampling, run_stream
from moss_core.errors import BackendError

# Leading whitespace plus 1-4 non-space characters; or trailing whitespace. Covers every string.
_TOKEN = re.compile(r"\s*\S{1,4}|\s+")


def scripted_tokens(text: str) -> list[str]:
    """Split text into the scripted backend's tokens (they concatenate back to ``text``).

    >>> scripted_tokens("Calculate(4/7) ok")
    ['Calc', 'ulat', 'e(4/', '7)', ' ok']
    """
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class FailAfter:
    """A scripted item that streams ``text`` and then raises ``error`` (a mid-stream failure).

    >>> backend = ScriptedBackend([FailAfter("partial", BackendError("connection lost"))])
    """

    text: str
    error: BaseException


@dataclass(frozen=True)
class Alternatives:
    """A scripted answer to ``alternatives`` (completions in rank order, most likely first) or
    to ``samples`` (the draws, in order).

    >>> backend = ScriptedBackend([Alternatives([' Two equations.<eot> ...', ' Three ...'])])
    """

    texts: Sequence[str]


ScriptItem = str | BaseException | FailAfter | Alternatives


class ScriptedBackend:
    """Plays back scripted completions in order; see the module docstring.

    Records every call: ``prompts`` (the prompt texts) and ``stops`` (the stop lists).
    ``token_seconds`` pauses before each streamed token, as a slow model would.

    >>> from agent.backends.base import run_stream
    >>> backend = ScriptedBackend(["4/7 is 0.57.<eom> ignored"])
    >>> run_stream(backend.stream("<|MOSS|>:", stop=["<eom>"], max_new_tokens=50)).text
    '4/7 is 0.57.'
    """

    def __init__(
        self,
        replies: Iterable[ScriptItem] = (),
        *,
        context_length: int = 2048,
        name: str = "scripted",
        token_seconds: float = 0.0,
    ) -> None:
        self.name = name
        self.context_length = context_length
        # A pause before each streamed token: a slow model, for tests of what a user can do
        # while a turn runs (stop it, send another message).
        self.token_seconds = token_seconds
        self._queue: deque[ScriptItem] = deque(replies)
        self.prompts: list[str] = []
        self.stops: list[list[str]] = []

    def enqueue(self, item: ScriptItem) -> None:
        """Script one more completion (a string), failure (an exception) or ``FailAfter``."""
        self._queue.append(item)

    @property
    def remaining(self) -> int:
        """Scripted items not yet consumed (tests assert the script was used up)."""
        return len(self._queue)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` as this backend counts them.

        >>> ScriptedBackend().count_tokens("What is 4/7?")
        3
        """
        return len(scripted_tokens(text))

    def stream(self, prompt: str, *, stop: Sequence[str], max_new_tokens: int) -> TextStream:
        """Stream the next scripted item (a generator: nothing happens until it is iterated,
        like a real backend, so errors surface at the first ``next``)."""
        self.prompts.append(prompt)
        self.stops.append(list(stop))
        if not self._queue:
            raise BackendError(
                f"ScriptedBackend ran out of replies after {len(self.prompts) - 1} call(s): "
                "script one more with enqueue(text) or pass more replies"
            )
        item = self._queue.popleft()
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, Alternatives):
            raise BackendError(
                f"ScriptedBackend call {len(self.prompts)} is stream() but the script holds "
                "Alternatives there; script a string for it"
            )
        text, error = (item.text, item.error) if isinstance(item, FailAfter) else (item, None)
        return (yield from self._play(prompt, text, error, stop, max_new_tokens))

    def alternatives(
        self, prompt: str, *, stop: Sequence[str], max_new_tokens: int, n: int
    ) -> list[Generation]:
        """The next scripted item's texts, when it is ``Alternatives`` (or an exception, which
        is raised): the first ``n``, each cut at a stop string as ``stream`` cuts one.

        Anything else is left in place and no alternatives are returned, so scripts written
        without retries in mind play on unchanged (the turn keeps its failed commands). Only a
        consumed item is recorded in ``prompts``.
        """
        item = self._queue[0] if self._queue else None
        if not isinstance(item, (Alternatives, BaseException)):
            return []
        self._queue.popleft()
        self.prompts.append(prompt)
        self.stops.append(list(stop))
        if isinstance(item, BaseException):
            raise item
        return [
            run_stream(self._play(prompt, text, None, stop, max_new_tokens))
            for text in item.texts[:n]
        ]

    def samples(
        self,
        prompt: str,
        *,
        stop: Sequence[str],
        max_new_tokens: int,
        n: int,
        temperature: float,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> list[Generation]:
        """Play the next ``Alternatives`` item as ``alternatives`` does: a script decides its
        draws in advance, so ``temperature``, ``top_p`` and ``seed`` change nothing."""
        check_sampling(n, temperature, top_p)
        return self.alternatives(prompt, stop=stop, max_new_tokens=max_new_tokens, n=n)

    def _play(
        self,
        prompt: str,
        text: str,
        error: BaseException | None,
        stop: Sequence[str],
        max_new_tokens: int,
    ) -> TextStream:
        matcher = StopMatcher(stop)
        used = 0
        for token in scripted_tokens(text):
            if used >= max_new_tokens:
                break
            used += 1
            if self.token_seconds:
                time.sleep(self.token_seconds)
            out = matcher.feed(token)
            if out:
                yield out
            if matcher.done:
                break
        if error is not None:
            raise error
        if not matcher.done:
            tail = matcher.flush()
            if tail:
                yield tail
        prompt_tokens = self.count_tokens(prompt)
        return Generation(
            text=matcher.text,
            stop=matcher.stop,
            prompt_tokens=prompt_tokens,
            prefill_tokens=prompt_tokens,  # no cache is simulated: every call encodes it all
            completion_tokens=used,
            prefill_seconds=0.0,
            decode_seconds=0.0,
        )
