"""A LOCAL CONTRACT FAKE of the mem0 platform REST API (not the real service).

It reproduces the documented wire format that ``mem0.client.main.MemoryClient`` 2.2.x speaks
(peers.md §1.6 and §2; docs.mem0.ai API reference), served through an ``httpx`` transport:

- ``GET /v1/ping/``: validates ``Authorization: Token <key>``; returns org and project.
- ``POST /v3/memories/add/``: with ``async_mode`` (the default) answers
  ``{"results": [{"message": ..., "status": "PENDING", "event_id": ...}]}`` and processes the
  add in the background (here: on the ``process_after_polls``-th poll of its event);
  with ``async_mode=false`` answers the processed ``{"id", "event": "ADD", "memory"}`` items.
- ``GET /v1/event/{id}/``: ``{id, event_type, status: PENDING|RUNNING|SUCCEEDED|FAILED,
  payload, metadata, results, created_at, updated_at, ...}``.
- ``POST /v3/memories/`` (``page``/``page_size`` in the query): ``{count, next, previous,
  results}``; ``POST /v3/memories/search/``: ``{"results": [{id, memory, score, ...}]}``.
  Identity lives in ``filters`` (``{"user_id": ...}``), never top level.
- ``GET/PUT/DELETE /v1/memories/{id}/`` and ``GET /v1/memories/{id}/history/``; a missing id
  is 404 ``{"detail": ...}``.

Search scores are word overlap in [0, 1]; the real ranking is not part of the contract.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

__all__ = ["Mem0PlatformFake"]

_WORD = re.compile(r"\w+")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Mem0PlatformFake:
    """In-memory stand-in for ``api.mem0.ai``; ``transport`` plugs it into ``httpx``."""

    def __init__(self, api_key: str = "m0-test-key", process_after_polls: int = 1) -> None:
        self.api_key = api_key
        self.process_after_polls = process_after_polls
        self.memories: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    @property
    def transport(self) -> httpx.MockTransport:
        """An ``httpx`` transport that answers as the platform would."""
        return httpx.MockTransport(self.handle)

    # -- dispatch ----------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        with self._lock:
            self.requests.append((request.method, request.url.path))
            if request.headers.get("Authorization") != f"Token {self.api_key}":
                return httpx.Response(401, json={"detail": "Invalid API key"})
            path = request.url.path
            body = json.loads(request.content) if request.content else {}
            route = (request.method, path)
            if route == ("GET", "/v1/ping/"):
                return httpx.Response(
                    200,
                    json={
                        "status": "ok",
                        "org_id": "org_fake",
                        "project_id": "proj_fake",
                        "user_email": "fake@example.com",
                    },
                )
            if route == ("POST", "/v3/memories/add/"):
                return self._add(body)
            if route == ("POST", "/v3/memories/"):
                return self._list(body, request.url.params)
            if route == ("POST", "/v3/memories/search/"):
                return self._search(body)
            match = re.fullmatch(r"/v1/event/([^/]+)/", path)
            if match and request.method == "GET":
                return self._event(match.group(1))
            match = re.fullmatch(r"/v1/memories/([^/]+)/history/", path)
            if match and request.method == "GET":
                return httpx.Response(200, json=self.history.get(match.group(1), []))
            match = re.fullmatch(r"/v1/memories/([^/]+)/", path)
            if match:
                return self._by_id(request.method, match.group(1), body)
            return httpx.Response(404, json={"detail": "Not found."})

    # -- routes ------------------------------------------------------------------------

    def _add(self, body: dict[str, Any]) -> httpx.Response:
        user = body.get("user_id") or (body.get("filters") or {}).get("user_id")
        if not user:
            return httpx.Response(400, json={"detail": "user_id, agent_id or run_id required"})
        messages = body.get("messages") or []
        text = " ".join(m.get("content", "") for m in messages if m.get("role") != "system")
        job = {"user_id": user, "memory": text, "metadata": body.get("metadata") or {}}
        if body.get("async_mode", True) is False:
            memory = self._store(job)
            return httpx.Response(
                200, json={"results": [{"id": memory["id"], "event": "ADD", "memory": text}]}
            )
        event_id = str(uuid.uuid4())
        self.events[event_id] = {
            "id": event_id,
            "event_type": "ADD",
            "status": "PENDING",
            "payload": {"messages": messages, "metadata": job["metadata"]},
            "metadata": {},
            "results": [],
            "created_at": _now(),
            "updated_at": _now(),
            "started_at": None,
            "completed_at": None,
            "latency": None,
            "_job": job,
            "_polls": 0,
        }
        return httpx.Response(
            200,
            json={
                "results": [
                    {
                        "message": "Memory processing has been queued for background execution",
                        "status": "PENDING",
                        "event_id": event_id,
                    }
                ]
            },
        )

    def _event(self, event_id: str) -> httpx.Response:
        event = self.events.get(event_id)
        if event is None:
            return httpx.Response(404, json={"detail": "Event not found"})
        event["_polls"] += 1
        if event["status"] == "PENDING" and event["_polls"] >= self.process_after_polls:
            memory = self._store(event["_job"])
            event.update(
                status="SUCCEEDED",
                results=[
                    {"id": memory["id"], "event": "ADD", "data": {"memory": memory["memory"]}}
                ],
                completed_at=_now(),
                updated_at=_now(),
            )
        return httpx.Response(200, json={k: v for k, v in event.items() if not k.startswith("_")})

    def _store(self, job: dict[str, Any]) -> dict[str, Any]:
        now = _now()
        memory = {
            "id": str(uuid.uuid4()),
            "memory": job["memory"],
            "user_id": job["user_id"],
            "metadata": job["metadata"],
            "categories": [],
            "created_at": now,
            "updated_at": now,
        }
        self.memories[memory["id"]] = memory
        self.history[memory["id"]] = [
            {
                "memory_id": memory["id"],
                "old_memory": None,
                "new_memory": job["memory"],
                "event": "ADD",
                "created_at": now,
            }
        ]
        return memory

    def _owned(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        user = (body.get("filters") or {}).get("user_id")
        rows = [m for m in self.memories.values() if m["user_id"] == user]
        return sorted(rows, key=lambda m: m["created_at"], reverse=True)

    def _list(self, body: dict[str, Any], params: httpx.QueryParams) -> httpx.Response:
        if "user_id" in body:
            return httpx.Response(400, json={"detail": "entity ids belong in filters"})
        rows = self._owned(body)
        page = int(params.get("page", 1))
        size = int(params.get("page_size", 100))
        chunk = rows[(page - 1) * size : page * size]
        more = page * size < len(rows)
        return httpx.Response(
            200,
            json={
                "count": len(rows),
                "next": f"https://api.mem0.ai/v3/memories/?page={page + 1}" if more else None,
                "previous": None
                if page == 1
                else f"https://api.mem0.ai/v3/memories/?page={page - 1}",
                "results": chunk,
            },
        )

    def _search(self, body: dict[str, Any]) -> httpx.Response:
        words = {w.lower() for w in _WORD.findall(body.get("query", ""))}
        threshold = float(body.get("threshold") or 0.0)
        scored = []
        for memory in self._owned(body):
            terms = {w.lower() for w in _WORD.findall(memory["memory"])}
            score = len(words & terms) / len(words) if words else 0.0
            if score >= threshold:
                scored.append({**memory, "score": score})
        scored.sort(key=lambda m: -m["score"])
        return httpx.Response(200, json={"results": scored[: int(body.get("top_k", 10))]})

    def _by_id(self, method: str, memory_id: str, body: dict[str, Any]) -> httpx.Response:
        memory = self.memories.get(memory_id)
        if memory is None:
            return httpx.Response(404, json={"detail": "Memory not found"})
        if method == "GET":
            return httpx.Response(200, json=memory)
        if method == "PUT":
            old = memory["memory"]
            if body.get("text") is not None:
                memory["memory"] = body["text"]
            if body.get("metadata") is not None:
                memory["metadata"] = {**memory["metadata"], **body["metadata"]}
            memory["updated_at"] = _now()
            self.history[memory_id].append(
                {
                    "memory_id": memory_id,
                    "old_memory": old,
                    "new_memory": memory["memory"],
                    "event": "UPDATE",
                    "created_at": memory["updated_at"],
                }
            )
            return httpx.Response(200, json=memory)
        if method == "DELETE":
            del self.memories[memory_id]
            return httpx.Response(200, json={"message": "Memory deleted successfully!"})
        return httpx.Response(405, json={"detail": "Method not allowed"})
