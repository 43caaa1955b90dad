"""A real, local OpenAI-compatible chat-completions server for the LLM interpreter tests.

Why a server and not a mock: the interpreter's failure handling depends on what the official
``openai`` client does with real HTTP — which status becomes which exception, how a read
timeout surfaces, how a body without ``choices`` parses.  Patching the client would test our
assumptions about it instead.  So the tests talk to this server over a socket on 127.0.0.1,
exactly as they would to a provider.

Behaviour is scripted per request with a queue (:meth:`LlmServer.push`): each request to
``POST /v1/chat/completions`` pops the next :class:`Behaviour`.  An empty queue answers 500
with a message, so a test that makes more calls than it scripted fails loudly instead of
silently getting some default answer.  Every request is recorded (:attr:`LlmServer.requests`)
with its path, headers and parsed JSON body, so tests can assert the model, the
``response_format`` and the messages that were sent.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: A realistic usage block (what OpenAI returns for a small structured-output call).
DEFAULT_USAGE: dict[str, Any] = {
    "prompt_tokens": 1200,
    "completion_tokens": 85,
    "total_tokens": 1285,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


@dataclass
class Behaviour:
    """What the server does with one request.

    ``kind``: ``ok`` (a completion whose message content is ``content``), ``status`` (an HTTP
    error ``status`` with an OpenAI-style error body), ``slow`` (sleep ``delay_s`` before an ok
    answer, longer than the client's timeout), ``empty_choices`` (a 200 completion with
    ``choices: []``).  Malformed JSON and schema violations are ``ok`` answers with such content
    (see :func:`malformed`, :func:`ok`).
    """

    kind: str
    content: str = ""
    status: int = 200
    usage: dict[str, Any] | None = field(default_factory=lambda: dict(DEFAULT_USAGE))
    delay_s: float = 0.0
    request_id: str = ""


def ok(content: dict[str, Any] | str, *, usage: dict[str, Any] | None = None, request_id: str = "") -> Behaviour:
    """A successful completion; ``content`` (a dict is JSON-encoded) is the assistant message."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    return Behaviour(
        "ok",
        content=text,
        usage=dict(DEFAULT_USAGE) if usage is None else usage,
        request_id=request_id,
    )


def http_error(status: int) -> Behaviour:
    return Behaviour("status", status=status, usage=None)


def slow(delay_s: float, content: dict[str, Any] | str = "{}") -> Behaviour:
    b = ok(content)
    b.kind = "slow"
    b.delay_s = delay_s
    return b


def malformed() -> Behaviour:
    """A 200 completion whose content is not JSON (a truncated object)."""
    return ok('{"language": "pt", "adjustments": [{"intent": "cuts_faster", "kind": "para')


def empty_choices() -> Behaviour:
    return Behaviour("empty_choices")


class LlmServer:
    """``http.server`` in a daemon thread, bound to a free port on 127.0.0.1."""

    def __init__(self) -> None:
        self.queue: list[Behaviour] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                pass  # keep pytest output clean

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                with server._lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    behaviour = server.queue.pop(0) if server.queue else None
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                if behaviour is None:
                    return self._send(500, {"error": {"message": "no behaviour scripted", "type": "test_server"}})
                model = (body or {}).get("model", "unknown") if isinstance(body, dict) else "unknown"
                if behaviour.kind == "status":
                    kind = "rate_limit_exceeded" if behaviour.status == 429 else "server_error"
                    headers = {"Retry-After": "1"} if behaviour.status == 429 else {}
                    message = f"scripted HTTP {behaviour.status}"
                    return self._send(behaviour.status, {"error": {"message": message, "type": kind}}, headers)
                if behaviour.kind == "slow":
                    # Wakes early when the server stops, so teardown never waits for the sleep.
                    server._stopping.wait(behaviour.delay_s)
                choices: list[dict[str, Any]] = []
                if behaviour.kind != "empty_choices":
                    choices = [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": behaviour.content, "refusal": None},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ]
                payload: dict[str, Any] = {
                    "id": behaviour.request_id or f"chatcmpl-{uuid.uuid4().hex[:24]}",
                    "object": "chat.completion",
                    "created": 1_700_000_000,
                    "model": model,
                    "system_fingerprint": "fp_test",
                    "choices": choices,
                }
                if behaviour.usage is not None:
                    payload["usage"] = behaviour.usage
                self._send(200, payload)

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test): nothing to answer

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # A short poll interval: shutdown() waits for it, and every test stops a server.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="llm-test-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self.queue.extend(behaviours)

    def start(self) -> LlmServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
