"""A LOCAL CONTRACT FAKE of the Letta REST API (not the real service).

Letta cloud cannot be reached from here, so the tests run the official ``letta-client``
(1.12.x, unmodified) against this fake. It reproduces the documented wire format of every
call the provider makes (letta-client's generated resources; docs.letta.com API reference;
peers.md §3):

- ``GET /v1/agents/?name=&tags=&limit=&after=`` -> ``[AgentState]``, oldest first;
  ``POST /v1/agents/`` ``{name, tags, model, embedding, ...}`` -> ``AgentState``;
  ``GET|DELETE /v1/agents/{agent_id}``; a missing agent is 404 ``{"detail": ...}``.
- ``POST /v1/agents/{id}/archival-memory`` ``{text, created_at, tags}`` -> ``[Passage]`` (a
  list, because the service may chunk long text; the fake never does).
- ``GET /v1/agents/{id}/archival-memory?after=&before=&limit=&ascending=&search=`` ->
  ``[Passage]`` ordered by ``(created_at, id)``, oldest first unless ``ascending=false``;
  ``after``/``before`` are passage ids, continuing in the sort order.
- ``DELETE /v1/agents/{id}/archival-memory/{passage_id}`` -> ``{"message": ...}``, 404
  ``"Passage with id ... not found in database."`` when missing.
- ``GET /v1/agents/{id}/archival-memory/search?query=&top_k=&tags=&tag_match_mode=`` ->
  ``{count, results: [{id, content, timestamp, tags}]}`` (no score).
- ``POST /v1/passages/search`` ``{agent_id, query, limit, tags, tag_match_mode}`` ->
  ``[{passage, score, metadata}]``.
- Auth is ``Authorization: Bearer <key>`` (401 otherwise); validation failures are 422 in
  FastAPI's ``{"detail": [{loc, msg, type}]}`` shape; ``fail_next`` injects 429 with
  ``Retry-After``, 5xx, ... (see ``openmem.contract_fake``).

Not reproduced: embeddings. The search score is the share of query words found in the
passage (in [0, 1]), standing in for the service's relevance score.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from openmem.contract_fake import ContractFake

__all__ = ["LettaFake"]

_WORD = re.compile(r"\w+")
_AGENT = re.compile(r"/v1/agents/([^/]+)")
_ARCHIVAL = re.compile(r"/v1/agents/([^/]+)/archival-memory")
_ARCHIVAL_SEARCH = re.compile(r"/v1/agents/([^/]+)/archival-memory/search")
_PASSAGE = re.compile(r"/v1/agents/([^/]+)/archival-memory/([^/]+)")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _invalid(field: str, message: str) -> httpx.Response:
    return httpx.Response(
        422, json={"detail": [{"loc": ["body", field], "msg": message, "type": "value_error"}]}
    )


def _not_found(what: str) -> httpx.Response:
    return httpx.Response(404, json={"detail": f"{what} not found in database."})


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


class LettaFake(ContractFake):
    """In-memory stand-in for a Letta server's agents and archival memory."""

    unauthorized_body = {"detail": "Invalid API key"}  # noqa: RUF012 - read only

    def __init__(self, api_key: str = "letta-test-key", *, latency: float = 0.0) -> None:
        super().__init__(api_key, latency=latency)
        self.agents: dict[str, dict[str, Any]] = {}
        self.passages: dict[str, dict[str, Any]] = {}

    # -- dispatch ----------------------------------------------------------------------

    def respond(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rstrip("/")
        method = request.method
        params = request.url.params
        try:
            body = json.loads(request.content) if request.content else {}
        except json.JSONDecodeError:
            return _invalid("body", "Invalid JSON")
        if path == "/v1/agents":
            return self._list_agents(params) if method == "GET" else self._create_agent(body)
        if path == "/v1/passages/search" and method == "POST":
            return self._global_search(body)
        if match := _ARCHIVAL_SEARCH.fullmatch(path):
            return self._agent_search(match.group(1), params)
        if match := _PASSAGE.fullmatch(path):
            if method == "DELETE":
                return self._delete_passage(match.group(1), match.group(2))
        elif match := _ARCHIVAL.fullmatch(path):
            if method == "POST":
                return self._create_passage(match.group(1), body)
            if method == "GET":
                return self._list_passages(match.group(1), params)
        elif match := _AGENT.fullmatch(path):
            return self._agent(method, match.group(1))
        return httpx.Response(404, json={"detail": "Not Found"})

    # -- agents ------------------------------------------------------------------------

    def _list_agents(self, params: httpx.QueryParams) -> httpx.Response:
        rows = sorted(self.agents.values(), key=lambda a: (a["created_at"], a["id"]))
        if name := params.get("name"):
            rows = [a for a in rows if a["name"] == name]
        if tags := params.get_list("tags"):
            rows = [a for a in rows if set(tags) <= set(a["tags"])]
        if after := params.get("after"):
            ids = [a["id"] for a in rows]
            rows = rows[ids.index(after) + 1 :] if after in ids else []
        return httpx.Response(200, json=rows[: int(params.get("limit", 50))])

    def _create_agent(self, body: dict[str, Any]) -> httpx.Response:
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            return _invalid("name", "Input should be a valid string")
        agent_id = f"agent-{uuid.uuid4()}"
        agent: dict[str, Any] = {
            "id": agent_id,
            "name": name or agent_id,
            "tags": list(body.get("tags") or []),
            "agent_type": "letta_v1_agent",
            "created_at": _now(),
            "updated_at": _now(),
            "model": body.get("model"),
            "embedding": body.get("embedding"),
            "metadata": body.get("metadata"),
            "system": "",
            "tools": [],
            "memory": {"blocks": []},
        }
        self.agents[agent_id] = agent
        return httpx.Response(200, json=agent)

    def _agent(self, method: str, agent_id: str) -> httpx.Response:
        agent = self.agents.get(agent_id)
        if agent is None:
            return httpx.Response(404, json={"detail": f"Agent with id {agent_id} not found"})
        if method == "DELETE":
            del self.agents[agent_id]
            for passage_id in [p for p, v in self.passages.items() if v["_agent"] == agent_id]:
                del self.passages[passage_id]
            return httpx.Response(200, json={"message": f"Agent id={agent_id} deleted"})
        return httpx.Response(200, json=agent)

    # -- archival memory ---------------------------------------------------------------

    def _create_passage(self, agent_id: str, body: dict[str, Any]) -> httpx.Response:
        if agent_id not in self.agents:
            return httpx.Response(404, json={"detail": f"Agent with id {agent_id} not found"})
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return _invalid("text", "Field required")
        tags = body.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return _invalid("tags", "Input should be a valid list of strings")
        created = body.get("created_at") or _now()
        passage: dict[str, Any] = {
            "id": f"passage-{uuid.uuid4()}",
            "text": text,
            "tags": tags,
            "metadata": {},
            "archive_id": f"archive-{agent_id.removeprefix('agent-')}",
            "created_at": created,
            "updated_at": created,
            "is_deleted": False,
            "embedding": None,
            "embedding_config": None,
            "_agent": agent_id,
        }
        self.passages[passage["id"]] = passage
        return httpx.Response(200, json=[_public(passage)])

    def _owned(self, agent_id: str) -> list[dict[str, Any]]:
        return sorted(
            (p for p in self.passages.values() if p["_agent"] == agent_id),
            key=lambda p: (_moment(p["created_at"]), p["id"]),
        )

    def _list_passages(self, agent_id: str, params: httpx.QueryParams) -> httpx.Response:
        if agent_id not in self.agents:
            return httpx.Response(404, json={"detail": f"Agent with id {agent_id} not found"})
        rows = self._owned(agent_id)
        if params.get("ascending", "true").lower() == "false":
            rows.reverse()
        ids = [p["id"] for p in rows]
        if (after := params.get("after")) is not None:
            rows = rows[ids.index(after) + 1 :] if after in ids else []
        if (before := params.get("before")) is not None:
            rows = rows[: ids.index(before)] if before in ids else []
        if search := params.get("search"):
            rows = [p for p in rows if search.lower() in p["text"].lower()]
        limit = int(params.get("limit", 100))
        return httpx.Response(200, json=[_public(p) for p in rows[:limit]])

    def _delete_passage(self, agent_id: str, passage_id: str) -> httpx.Response:
        passage = self.passages.get(passage_id)
        if passage is None or passage["_agent"] != agent_id:
            return _not_found(f"Passage with id {passage_id}")
        del self.passages[passage_id]
        return httpx.Response(200, json={"message": f"Memory id={passage_id} successfully deleted"})

    def _ranked(
        self, agent_id: str, query: str | None, tags: list[str], mode: str, limit: int
    ) -> list[tuple[dict[str, Any], float]]:
        wanted = _words(query or "")
        scored = []
        for passage in self._owned(agent_id):
            have = set(passage["tags"])
            if tags and not (set(tags) <= have if mode == "all" else set(tags) & have):
                continue
            words = _words(passage["text"])
            score = len(wanted & words) / len(wanted) if wanted else 0.0
            scored.append((passage, score))
        scored.sort(key=lambda item: (-item[1], item[0]["id"]))
        return scored[:limit]

    def _agent_search(self, agent_id: str, params: httpx.QueryParams) -> httpx.Response:
        if agent_id not in self.agents:
            return httpx.Response(404, json={"detail": f"Agent with id {agent_id} not found"})
        query = params.get("query")
        if not query:
            return httpx.Response(
                422,
                json={"detail": [{"loc": ["query", "query"], "msg": "Field required"}]},
            )
        ranked = self._ranked(
            agent_id,
            query,
            params.get_list("tags"),
            params.get("tag_match_mode", "any"),
            int(params.get("top_k", 10)),
        )
        results = [
            {"id": p["id"], "content": p["text"], "timestamp": p["created_at"], "tags": p["tags"]}
            for p, _ in ranked
        ]
        return httpx.Response(200, json={"count": len(results), "results": results})

    def _global_search(self, body: dict[str, Any]) -> httpx.Response:
        agent_id = body.get("agent_id")
        if not isinstance(agent_id, str) or agent_id not in self.agents:  # narrowed to str
            # The service searches the whole organisation without an agent; the provider
            # never does, so the fake refuses instead of guessing.
            return httpx.Response(404, json={"detail": f"Agent with id {agent_id} not found"})
        limit = body.get("limit", 50)
        if not isinstance(limit, int) or limit < 1:
            return _invalid("limit", "Input should be greater than 0")
        ranked = self._ranked(
            agent_id,
            body.get("query"),
            list(body.get("tags") or []),
            body.get("tag_match_mode") or "any",
            limit,
        )
        return httpx.Response(
            200,
            json=[{"passage": _public(p), "score": score, "metadata": {}} for p, score in ranked],
        )


def _public(passage: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in passage.items() if not k.startswith("_")}


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
