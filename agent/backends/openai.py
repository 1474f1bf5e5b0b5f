"""A backend for any server that speaks the OpenAI *completions* API (vLLM, llama.cpp, TGI).

The MOSS format is plain text, so this backend uses ``POST {base_url}/v1/completions`` with a
raw ``prompt`` (not the chat API, which would wrap the prompt in the server's chat template) and
reads the answer as server-sent events (``stream: true``). Only the standard library is used for
HTTP, so no dependency is added::

    backend = OpenAICompatibleBackend("http://127.0.0.1:8000", model="moss", context_length=2048)
    gen = run_stream(backend.stream(prompt, stop=["<eoc>"], max_new_tokens=128), print)

Serving a model
---------------
llama.cpp through llama-cpp-python (CPU friendly; ``pip install 'llama-cpp-python[server]'``)::

    python -m llama_cpp.server --model SmolLM2-135M-Instruct.Q4_1.gguf \\
        --host 127.0.0.1 --port 8000 --n_ctx 2048
    # then: OpenAICompatibleBackend("http://127.0.0.1:8000", model="any", context_length=2048)

vLLM, serving a base model with the fine-tuned MOSS LoRA adapter on top of it (requests name the
adapter, ``model="moss"``; naming the base model instead gets the base model without adapter)::

    vllm serve BASE_MODEL --enable-lora --lora-modules moss=ADAPTER_DIR --max-lora-rank 64
    # then: OpenAICompatibleBackend("http://127.0.0.1:8000", model="moss", context_length=...)

Text Generation Inference exposes the same ``/v1/completions`` route.

Behaviour worth knowing
-----------------------
* Stop strings are sent to the server *and* applied here with ``StopMatcher``: servers differ
  (some only stop on tokens, some let a stop string through when it is split across tokens), and
  applying them here makes every server cut at the same place.
* A server that cuts at a stop string drops it, and only vLLM says which one it was
  (``stop_reason``). Elsewhere, with several stop strings, ``Generation.stop`` is the first one
  requested: "stopped, not truncated" is always right, the exact string is a guess (end-of-text
  reads the same). ``server_stops=False`` keeps stop strings out of the request, so the client
  sees the exact one and hangs up, which aborts the generation on vLLM and llama.cpp.
* Token counts come from the server's ``usage`` (asked for with ``stream_options``). A server that
  sends no usage (llama-cpp-python) gets approximate counts: one token per streamed chunk (vLLM
  and llama.cpp send one chunk per token), ``count_tokens`` for the prompt, and
  ``prefill_tokens`` equal to the whole prompt even where the server reused its cache.
* ``prefill_seconds`` is the time to the first streamed chunk and ``decode_seconds`` the rest, as
  seen from the client (network time included).
* ``generate_batch`` sends the prompts ``max_concurrency`` at a time. The default, 1, sends them
  in turn; raise it for servers that batch concurrent requests (vLLM, TGI, llama.cpp's
  ``llama-server`` with several slots). Not for llama-cpp-python's server as it starts: a new
  request interrupts the one it is running, which then ends early without an error; start it
  with ``--interrupt_requests False`` (it still answers them one at a time).
* Constrained decoding: the Agent's phase-1 grammar (``agent.grammar``) is sent in GBNF
  (``agent.gbnf``) in the request field ``grammar_field`` names: ``grammar`` (the default)
  for llama.cpp's servers, ``guided_grammar`` for vLLM. ``grammar_field=None`` sends none. A
  server that answers HTTP 400 naming the field is asked again without it, and never again
  with it (one warning in the log); a grammar that does not translate is not sent either.
* ``count_tokens`` asks the server's tokenizer (vLLM ``/tokenize``, llama-cpp-python
  ``/extras/tokenize``, llama.cpp ``/tokenize``) when one answers, else estimates 4 characters per
  token, which is roughly right for English BPE vocabularies and errs high for code and digits.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from agent.backends.base import Generation, StopMatcher, TextStream, run_stream
from agent.gbnf import GrammarNotConvertible, to_gbnf
from moss_core.errors import BackendError

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4  # the estimate used when no tokenizer is reachable


def estimate_tokens(text: str) -> int:
    """Approximate token count at ~4 characters per token (English BPE vocabularies).

    >>> estimate_tokens("What is 4/7?")
    3
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class OpenAICompatibleBackend:
    """Generates through an OpenAI-compatible completions server.

    ``base_url`` is the server root (``http://host:port``; a trailing ``/v1`` is accepted too).
    ``context_length`` must match what the server was started with (``--n_ctx`` for llama.cpp,
    ``--max-model-len`` for vLLM): the Agent uses it to decide how much history fits.
    ``tokenizer`` (optional) is a local function text -> token ids, for example a Hugging Face
    ``tokenizer.encode``; it saves a round trip per ``count_tokens`` call. ``server_stops=False``
    applies stop strings only here (see the module docstring). ``extra`` is merged into every
    completions request, for server-specific options such as ``{"top_k": 1}``.

    Example::

        backend = OpenAICompatibleBackend("http://127.0.0.1:8000", "moss", context_length=4096)
        text = run_stream(backend.stream("<|Human|>: hi<eoh>\\n", stop=["<eoh>"],
                                         max_new_tokens=32)).text
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60,
        context_length: int = 4096,
        tokenizer: Callable[[str], Sequence[object]] | None = None,
        temperature: float = 0.0,
        server_stops: bool = True,
        extra: Mapping[str, Any] | None = None,
        max_concurrency: int = 1,
        grammar_field: str | None = "grammar",
    ) -> None:
        root = base_url.rstrip("/")
        self.base_url = root[: -len("/v1")] if root.endswith("/v1") else root
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.context_length = context_length
        self.temperature = temperature
        self.server_stops = server_stops
        self.extra = dict(extra or {})
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.max_concurrency = max_concurrency
        self.grammar_field = grammar_field
        # The Agent sends a phase-1 grammar only to a backend that says it constrains.
        self.constrains = grammar_field is not None
        self._gbnf = functools.lru_cache(maxsize=64)(_gbnf_or_none)
        self.name = f"openai:{model}@{self.base_url}"
        self._tokenizer = tokenizer
        # Which tokenize route this server has: unknown (None) until probed, "" when none works.
        self._tokenize_route: str | None = None
        # The Agent counts the same history pieces again and again; each count may be a request.
        self._count_cached = functools.lru_cache(maxsize=4096)(self._count_uncached)

    # ----------------------------------------------------------------- HTTP

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _open(self, path: str, body: Mapping[str, Any]) -> http.client.HTTPResponse:
        """POST JSON and return the open response, or raise BackendError saying how to fix it."""
        url = self._url(path)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            response: http.client.HTTPResponse = urllib.request.urlopen(
                request, timeout=self.timeout
            )
        except urllib.error.HTTPError as err:
            detail = _error_detail(err)
            hint = _HTTP_HINTS.get(err.code, "check the server log")
            raise BackendError(
                f"{url} answered HTTP {err.code}: {detail} ({hint}; model={self.model!r})"
            ) from err
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            raise BackendError(_network_message(url, err, self.timeout)) from err
        return response

    # --------------------------------------------------------------- stream

    def generate_batch(
        self,
        prompts: Sequence[str],
        *,
        stop: Sequence[str],
        max_new_tokens: int,
        grammar: str | None = None,
    ) -> list[Generation]:
        """Complete every prompt, as concurrent requests; one ``Generation`` per prompt, in order.

        The first request to fail raises its ``BackendError`` once the others have ended.
        """
        from concurrent.futures import ThreadPoolExecutor

        def one(prompt: str) -> Generation:
            return run_stream(
                self.stream(prompt, stop=stop, max_new_tokens=max_new_tokens, grammar=grammar)
            )

        if not prompts:
            return []
        workers = min(self.max_concurrency, len(prompts))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="completion") as pool:
            futures = [pool.submit(one, p) for p in prompts]
        return [f.result() for f in futures]  # the pool has waited for all of them

    def stream(
        self,
        prompt: str,
        *,
        stop: Sequence[str],
        max_new_tokens: int,
        grammar: str | None = None,
    ) -> TextStream:
        """Stream the completion of ``prompt`` up to the first stop string; ``grammar``
        (llguidance text, ``agent.grammar``) goes to the server as GBNF (see above).

        Yields text pieces (never part of a stop string) and returns a ``Generation``.
        Raises ``BackendError`` when the server is unreachable, answers an error, or stalls for
        longer than ``timeout`` seconds.
        """
        stops = [s for s in stop if s]
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": max_new_tokens,
            "temperature": self.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
            **self.extra,
        }
        if stops and self.server_stops:
            body["stop"] = stops
        field = self.grammar_field
        gbnf = self._gbnf(grammar) if grammar and field else None
        if gbnf is not None and field is not None:
            body[field] = gbnf
        url = self._url("/v1/completions")
        matcher = StopMatcher(stops)
        usage: Mapping[str, Any] | None = None
        finish: str | None = None
        server_stop: str | None = None
        chunks = 0
        started = time.perf_counter()
        first_at: float | None = None

        try:
            response = self._open("/v1/completions", body)
        except BackendError as error:
            if field is None or field not in body or not _refuses_field(error, field):
                raise
            log.warning("%s does not take %r: phase-1 lines go unconstrained", url, field)
            self.grammar_field = None
            self.constrains = False
            del body[field]
            response = self._open("/v1/completions", body)
        try:
            for event in _events(response, url, self.timeout):
                if event.get("usage"):
                    usage = event["usage"]
                for choice in event.get("choices") or ():
                    piece = choice.get("text") or ""
                    if piece:
                        chunks += 1
                        if first_at is None:
                            first_at = time.perf_counter()
                        out = matcher.feed(piece)
                        if out:
                            yield out
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                        # vLLM says which stop string matched; others do not.
                        reason = choice.get("stop_reason")
                        server_stop = reason if isinstance(reason, str) else None
                if matcher.done:
                    break  # the client-side stop fired: closing the connection aborts the server
        finally:
            response.close()
        if not matcher.done:
            tail = matcher.flush()
            if tail:
                yield tail
        ended = time.perf_counter()

        if usage is not None and "completion_tokens" in usage:
            prompt_tokens = int(usage.get("prompt_tokens") or 0)
            completion_tokens = int(usage["completion_tokens"])
            details = usage.get("prompt_tokens_details") or {}
            prefill_tokens = prompt_tokens - int(details.get("cached_tokens") or 0)
        else:
            # No usage (llama-cpp-python never streams it; or we hung up on a client-side stop):
            # approximate, one token per streamed chunk and the whole prompt as prefilled.
            prompt_tokens = prefill_tokens = self.count_tokens(prompt)
            completion_tokens = chunks
        return Generation(
            text=matcher.text,
            stop=matcher.stop or _server_stop(finish, server_stop, stops),
            prompt_tokens=prompt_tokens,
            prefill_tokens=prefill_tokens,
            completion_tokens=completion_tokens,
            prefill_seconds=(first_at or ended) - started,
            decode_seconds=ended - (first_at or ended),
        )

    # --------------------------------------------------------------- tokens

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the local tokenizer, else the server's, else ~4 chars/token.

        >>> backend = OpenAICompatibleBackend("http://127.0.0.1:9", "m", tokenizer=str.split)
        >>> backend.count_tokens("two words")
        2
        """
        if not text:
            return 0
        return self._count_cached(text)

    def _count_uncached(self, text: str) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer(text))
        routes = [self._tokenize_route] if self._tokenize_route is not None else _TOKENIZE_ROUTES
        for route in routes:
            if not route:
                break
            count = self._server_count(route, text)
            if count is not None:
                self._tokenize_route = route
                return count
        self._tokenize_route = ""  # none answered: don't ask again
        return estimate_tokens(text)

    def _server_count(self, route: str, text: str) -> int | None:
        """Ask one tokenize route; None when this server does not have it."""
        body = {"model": self.model, "prompt": text, "input": text, "content": text}
        try:
            response = self._open(route, body)
        except BackendError as err:
            if isinstance(err.__cause__, urllib.error.HTTPError):
                return None  # 404/405/422: not this route; connection errors propagate
            raise
        with response:
            try:
                answer = json.loads(response.read())
            except (ValueError, OSError, http.client.HTTPException):
                return None
        if isinstance(answer, dict):
            if isinstance(answer.get("count"), int):
                return int(answer["count"])
            if isinstance(answer.get("tokens"), list):
                return len(answer["tokens"])
        return None


# Tried in order. The body carries the text under every name these routes expect.
_TOKENIZE_ROUTES = ["/tokenize", "/extras/tokenize"]

_HTTP_HINTS = {
    400: "the server rejected the request; is the prompt longer than its context?",
    401: "pass api_key=... matching the server's --api-key",
    403: "pass api_key=... matching the server's --api-key",
    404: "base_url must be the server root serving /v1/completions, and model a name it serves",
    422: "the server rejected a request field; it may not support the completions API fully",
    503: "the server is still loading the model; retry in a moment",
}


def _error_detail(err: urllib.error.HTTPError) -> str:
    """The server's error message, shortened (servers send JSON, HTML or nothing)."""
    try:
        raw = err.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        raw = ""
    try:
        data = json.loads(raw)
        message = data.get("error", data) if isinstance(data, dict) else data
        if isinstance(message, dict):
            message = message.get("message", message)
        raw = str(message)
    except ValueError:
        if raw.lstrip().startswith("<"):
            raw = ""  # an HTML error page: its reason phrase says the same, shorter
    raw = " ".join(raw.split())
    return (raw[:300] + "...") if len(raw) > 300 else (raw or err.reason or "no detail")


def _network_message(url: str, err: BaseException, timeout: float) -> str:
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, TimeoutError):
        return (
            f"{url} did not answer within {timeout:g}s: the server is busy or stuck; "
            "raise timeout=... or check the server"
        )
    return (
        f"cannot reach {url} ({reason}): start the server (for example "
        "`python -m llama_cpp.server --model MODEL.gguf --port 8000` or `vllm serve MODEL`) "
        "or fix base_url"
    )


def _events(
    response: http.client.HTTPResponse, url: str, timeout: float
) -> Iterator[dict[str, Any]]:
    """The JSON events of a server-sent-event stream, until ``data: [DONE]``.

    A server that ignored ``stream: true`` and sent one JSON body is read as a single event.
    """
    try:
        if "text/event-stream" not in (response.headers.get("Content-Type") or ""):
            yield _decode(response.read(), url)
            return
        for raw in response:
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue  # blank separators, ": ping" comments, "event:" lines
            data = line[len(b"data:") :].strip()
            if data == b"[DONE]":
                return
            yield _decode(data, url)
    except (OSError, http.client.HTTPException) as err:
        raise BackendError(_network_message(url, err, timeout)) from err


def _decode(data: bytes, url: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError as err:
        raise BackendError(
            f"{url} sent something that is not JSON ({data[:120]!r}): "
            "is base_url an OpenAI-compatible server?"
        ) from err
    if not isinstance(event, dict):
        raise BackendError(f"{url} sent an unexpected event {event!r}")
    if event.get("error"):
        error = event["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise BackendError(f"{url} failed during generation: {message} (check the server log)")
    return event


def _gbnf_or_none(grammar: str) -> str | None:
    try:
        return to_gbnf(grammar)
    except GrammarNotConvertible as error:
        log.warning("the phase-1 grammar is not sent (no GBNF for it): %s", error)
        return None


def _refuses_field(error: BackendError, field: str) -> bool:
    """Whether a server's error says it does not take the request field ``field``."""
    text = str(error)
    return ("HTTP 400" in text or "HTTP 422" in text) and field in text


def _server_stop(finish: str | None, reported: str | None, stops: Sequence[str]) -> str | None:
    """Which stop string ended a generation the server cut itself (it strips the string).

    vLLM reports it; other servers only say ``finish_reason: "stop"``, which is exact when a single
    stop string was asked for. With several the first stands in: what the Agent needs to know is
    that the model stopped rather than ran out of tokens (None), and that part is always right.
    """
    if finish != "stop" or not stops:
        return None
    return reported if reported in stops else stops[0]
