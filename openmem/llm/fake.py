"""A FAKE OpenAI-compatible chat-completions server, scripted per test. Not an LLM.

It listens on an ephemeral loopback port in a daemon thread and answers
``POST /v1/chat/completions`` from a script, so the real ``ChatClient`` (httpx, timeouts,
retries, repair) is exercised over a real socket without any model:

    with FakeChatServer() as server:
        server.script(FakeReply.json({"facts": ["Lives in Lisbon"]}), FakeReply(status=500))
        client = ChatClient(base_url=server.url, model="fake")

A reply is taken from the queued script first, else from ``responder(request_body)``; with
neither, the server answers 500. ``FakeLLM`` is a responder that plays the infer pipeline's
two prompts from simple rules, for tests and the conformance ``infer`` group.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import anyio
import anyio.to_thread

__all__ = ["FakeChatServer", "FakeLLM", "FakeReply", "Responder"]


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer: an assistant ``content``, or a raw ``body``, a status, a delay."""

    status: int = 200
    content: str | None = None
    body: Any = None
    """Sent as is (JSON-encoded unless it is ``bytes``) instead of a completion."""
    delay: float = 0.0
    """Seconds to wait before answering (a slow or hung model)."""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any) -> FakeReply:
        """A 200 completion whose content is ``value`` as JSON."""
        return cls(content=json.dumps(value))

    def encode(self) -> bytes:
        """The HTTP body of this reply."""
        if isinstance(self.body, bytes):
            return self.body
        if self.body is not None:
            return json.dumps(self.body).encode()
        if self.content is None:
            return json.dumps({"error": {"message": "scripted failure"}}).encode()
        return json.dumps(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": "fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.content},
                        "finish_reason": "stop",
                    }
                ],
            }
        ).encode()


Responder = Callable[[dict[str, Any]], FakeReply]


class FakeChatServer:
    """The fake server; see the module docstring. ``requests`` holds every request body."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[FakeReply] = deque()
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The API root to give ``ChatClient(base_url=...)``."""
        if self._server is None:
            raise RuntimeError("the fake chat server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: FakeReply) -> None:
        """Queue replies, answered in order before the responder is asked."""
        with self._lock:
            self._queue.extend(replies)

    async def wait_for_requests(self, count: int, within: float = 5.0) -> None:
        """Wait until ``count`` requests have arrived (``TimeoutError`` after ``within`` s)."""

        def arrived() -> bool:
            with self._lock:
                return self._lock.wait_for(lambda: len(self.requests) >= count, within)

        if not await anyio.to_thread.run_sync(arrived, abandon_on_cancel=True):
            raise TimeoutError(f"{count} requests did not arrive within {within} s")

    def start(self) -> Self:
        """Listen on 127.0.0.1 at an ephemeral port."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-chat-server", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop listening; idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _answer(self, body: dict[str, Any]) -> FakeReply:
        with self._lock:
            self.requests.append(body)
            self._lock.notify_all()
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(body)
        return FakeReply(status=500)


def _handler_for(fake: FakeChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            if not self.path.split("?")[0].endswith("/chat/completions"):
                reply = FakeReply(status=404)
            else:
                reply = fake._answer(body)
            if reply.delay:
                time.sleep(reply.delay)
            payload = reply.encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout, cancel): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read ``requests``, not a log

    return Handler


@dataclass
class FakeLLM:
    """A responder playing the pipeline's prompts from rules; deterministic, not a model.

    ``facts`` maps a phrase of a user message (case-insensitive) to the facts extracted when
    it occurs. ``same`` lists groups of facts that mean the same thing (a decide request
    pairing a new fact with a stored one of its group answers NONE); ``replaces`` maps a new
    fact to a phrase of the stored memory it contradicts (DELETE); ``refines`` maps a new
    fact to (a phrase of the stored memory it extends, the merged text) (UPDATE). Anything
    else is ADD.
    """

    facts: Mapping[str, Sequence[str]] = field(default_factory=dict)
    same: Sequence[Sequence[str]] = ()
    replaces: Mapping[str, str] = field(default_factory=dict)
    refines: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        messages = body.get("messages") or []
        system = str(messages[0].get("content", "")) if messages else ""
        question = str(messages[-1].get("content", "")) if messages else ""
        if '"decisions"' in system:
            return FakeReply.json({"decisions": self._decide(json.loads(question))})
        lowered = question.lower()
        found: list[str] = []
        for phrase, facts in self.facts.items():
            if phrase.lower() in lowered:
                found.extend(f for f in facts if f not in found)
        return FakeReply.json({"facts": found})

    def _decide(self, question: Mapping[str, Any]) -> list[dict[str, Any]]:
        memories = [(int(m["id"]), str(m["text"])) for m in question.get("memories", [])]
        decisions: list[dict[str, Any]] = []
        used: set[int] = set()
        for item in question.get("facts", []):
            index, fact = int(item["index"]), str(item["text"])
            group = next((g for g in self.same if fact in g), (fact,))
            twin = next((i for i, text in memories if text in group), None)
            old = self.replaces.get(fact)
            target = next((i for i, text in memories if old and old.lower() in text.lower()), None)
            extended, merged = self.refines.get(fact, ("", ""))
            refined = next(
                (i for i, text in memories if extended and extended.lower() in text.lower()),
                None,
            )
            if twin is not None:
                decisions.append(
                    {"fact": index, "event": "NONE", "memory": twin, "reason": "already stored"}
                )
            elif target is not None and target not in used:
                used.add(target)
                decisions.append(
                    {
                        "fact": index,
                        "event": "DELETE",
                        "memory": target,
                        "reason": f"contradicts the stored memory: {fact}",
                    }
                )
            elif refined is not None and refined not in used:
                used.add(refined)
                decisions.append(
                    {
                        "fact": index,
                        "event": "UPDATE",
                        "memory": refined,
                        "text": merged,
                        "reason": f"extends the stored memory: {fact}",
                    }
                )
            else:
                decisions.append({"fact": index, "event": "ADD", "reason": "new information"})
        return decisions
