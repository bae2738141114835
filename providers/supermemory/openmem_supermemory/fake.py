"""A LOCAL CONTRACT FAKE of the Supermemory v5 REST API (not the real service).

Supermemory cannot be reached from here, so the tests run the official ``supermemory``
client (5.0.x, unmodified) against this fake. It reproduces the documented wire format of
every call the provider makes (the client's generated ``raw_client`` modules; the v5 API
reference; peers.md §4):

- ``POST /ns/{ns}/document`` ``{content, id, metadata}`` -> ``{id, status: "queued"}``.
  Ingestion is asynchronous: a document moves ``queued`` -> ``done`` on the
  ``process_after_polls``-th ``GET`` of it (a search finds it only once processed).
- ``GET /ns/{ns}/document/{id}`` -> ``Document{id, title, type, summary, content, metadata,
  system{status, dreamingStatus, createdAt, updatedAt}}``; 404 ``{"error": ...}`` when missing.
- ``PATCH /ns/{ns}/document/{id}`` ``{content?, metadata?}`` -> ``DocumentRef`` (metadata
  keys given replace those stored; new content is queued again, the last processed content
  stays searchable meanwhile).
- ``DELETE /ns/{ns}/document`` ``{ids}`` -> ``{count, errors: [{id, error}]}``.
- ``POST /ns/{ns}/list/documents?page=&limit=&sort=&order=`` ``{filter, include}`` ->
  ``{documents, chunks, memories, pagination{currentPage, limit, totalItems, totalPages}}``.
- ``POST /ns/{ns}/search`` ``{query, filter, searchMode, limit, include, threshold}`` ->
  ``{results: [{id, memory?, chunk?, metadata, similarity, isLatest, isInference, system,
  included?}], searchTime}``.
- The filter tree: ``{"operator": "and"|"or", "operands": [...]}`` over leaves
  ``{field, operator, value}`` with ``eq/neq`` (strings, ``caseSensitive``; numbers and
  booleans), ``gt/gte/lt/lte``, ``contains/notContains``, ``arrayContains/arrayNotContains``;
  a dotted field name is one literal key.
- Auth is ``Authorization: Bearer <key>`` (401 otherwise); bad bodies are 400
  ``{"error", "details"}``; ``fail_next`` injects 429 with ``Retry-After``, 5xx, ...

Not reproduced: memory extraction ("dreaming"), chunking of long text (a document is one
chunk) and embeddings: the similarity is the share of query words found in the chunk.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from openmem.contract_fake import ContractFake

__all__ = ["SupermemoryFake"]

_WORD = re.compile(r"\w+")
_DOCUMENT = re.compile(r"/ns/([^/]+)/document/([^/]+)")
_DOCUMENTS = re.compile(r"/ns/([^/]+)/document")
_LIST = re.compile(r"/ns/([^/]+)/list/([^/]+)")
_SEARCH = re.compile(r"/ns/([^/]+)/search")
_MAX_LIST = 100
_MAX_SEARCH = 100


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _bad(message: str) -> httpx.Response:
    return httpx.Response(400, json={"error": "Bad Request", "details": message})


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


class SupermemoryFake(ContractFake):
    """In-memory stand-in for ``api.supermemory.ai`` (v5): namespaces of documents."""

    unauthorized_body = {"error": "Unauthorized", "details": "Invalid API key"}  # noqa: RUF012

    def __init__(
        self,
        api_key: str = "sm-test-key",
        *,
        process_after_polls: int = 1,
        latency: float = 0.0,
    ) -> None:
        super().__init__(api_key, latency=latency)
        self.process_after_polls = process_after_polls
        self.documents: dict[tuple[str, str], dict[str, Any]] = {}
        self._serial = 0

    # -- dispatch ----------------------------------------------------------------------

    def respond(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        method = request.method
        try:
            body = json.loads(request.content) if request.content else {}
        except json.JSONDecodeError:
            return _bad("Invalid JSON body")
        if not isinstance(body, dict):
            return _bad("The body must be a JSON object")
        if match := _DOCUMENT.fullmatch(path):
            namespace, doc_id = match.groups()
            if method == "GET":
                return self._get(namespace, doc_id)
            if method == "PATCH":
                return self._update(namespace, doc_id, body)
        elif match := _DOCUMENTS.fullmatch(path):
            if method == "POST":
                return self._add(match.group(1), body)
            if method == "DELETE":
                return self._delete(match.group(1), body)
        elif (match := _LIST.fullmatch(path)) and method == "POST":
            return self._list(match.group(1), match.group(2), body, request.url.params)
        elif (match := _SEARCH.fullmatch(path)) and method == "POST":
            return self._search(match.group(1), body)
        return httpx.Response(404, json={"error": "Not Found", "details": "No such route"})

    # -- documents ---------------------------------------------------------------------

    def _add(self, namespace: str, body: dict[str, Any]) -> httpx.Response:
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            return _bad("content is required")
        metadata = body.get("metadata") or {}
        if problem := _metadata_problem(metadata):
            return _bad(problem)
        self._serial += 1
        doc_id = body.get("id") or f"doc_{self._serial:08d}"
        if (namespace, doc_id) in self.documents:
            return self._update(namespace, doc_id, body)
        now = _now()
        self.documents[(namespace, doc_id)] = {
            "id": doc_id,
            "content": content,
            "metadata": dict(metadata),
            "status": "queued",
            "createdAt": now,
            "updatedAt": now,
            "_serial": self._serial,
            "_polls": 0,
            "_indexed": None,
        }
        return httpx.Response(200, json={"id": doc_id, "status": "queued"})

    def _process(self, doc: dict[str, Any]) -> None:
        doc["_polls"] += 1
        if doc["status"] != "done" and doc["_polls"] >= self.process_after_polls:
            doc["status"] = "done"
            doc["_indexed"] = doc["content"]

    def _get(self, namespace: str, doc_id: str) -> httpx.Response:
        doc = self.documents.get((namespace, doc_id))
        if doc is None:
            return httpx.Response(404, json={"error": "Document not found"})
        self._process(doc)
        return httpx.Response(200, json=_document(doc, content=True))

    def _update(self, namespace: str, doc_id: str, body: dict[str, Any]) -> httpx.Response:
        doc = self.documents.get((namespace, doc_id))
        if doc is None:
            return httpx.Response(404, json={"error": "Document not found"})
        metadata = body.get("metadata")
        if metadata is not None:
            if problem := _metadata_problem(metadata):
                return _bad(problem)
            doc["metadata"].update(metadata)
        content = body.get("content")
        if content is not None:
            if not isinstance(content, str) or not content.strip():
                return _bad("content must not be empty")
            if content != doc["content"]:
                doc.update(content=content, status="queued", _polls=0)
        doc["updatedAt"] = _now()
        return httpx.Response(200, json={"id": doc_id, "status": doc["status"]})

    def _delete(self, namespace: str, body: dict[str, Any]) -> httpx.Response:
        ids = body.get("ids")
        if not isinstance(ids, list) or not ids:
            return _bad("ids must be a non-empty array")
        count, errors = 0, []
        for doc_id in ids:
            if self.documents.pop((namespace, str(doc_id)), None) is None:
                errors.append({"id": doc_id, "error": "Document not found"})
            else:
                count += 1
        return httpx.Response(200, json={"count": count, "errors": errors})

    # -- list and search ---------------------------------------------------------------

    def _in(self, namespace: str) -> list[dict[str, Any]]:
        return [d for (ns, _), d in self.documents.items() if ns == namespace]

    def _list(
        self, namespace: str, kind: str, body: dict[str, Any], params: httpx.QueryParams
    ) -> httpx.Response:
        if kind not in ("documents", "chunks", "memories"):
            return _bad("type must be documents, chunks or memories")
        try:
            page = int(params.get("page", 1))
            limit = int(params.get("limit", 10))
        except ValueError:
            return _bad("page and limit must be integers")
        if page < 1 or not 1 <= limit <= _MAX_LIST:
            return _bad(f"page must be >= 1 and limit within 1..{_MAX_LIST}")
        rows = [d for d in self._in(namespace) if _matches(body.get("filter"), d["metadata"])]
        sort = params.get("sort", "createdAt")
        key = "updatedAt" if sort == "updatedAt" else "createdAt"
        rows.sort(key=lambda d: (d[key], d["_serial"]), reverse=params.get("order") != "asc")
        include = body.get("include") or {}
        documents = (
            [
                _document(d, content=bool(include.get("content")), listing=True)
                for d in rows[(page - 1) * limit : page * limit]
            ]
            if kind == "documents"
            else []
        )
        return httpx.Response(
            200,
            json={
                "documents": documents,
                "chunks": [],
                "memories": [],
                "pagination": {
                    "currentPage": page,
                    "limit": limit,
                    "totalItems": len(rows),
                    "totalPages": math.ceil(len(rows) / limit) if rows else 0,
                },
            },
        )

    def _search(self, namespace: str, body: dict[str, Any]) -> httpx.Response:
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return _bad("query is required")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 1 <= limit <= _MAX_SEARCH:
            return _bad(f"limit must be within 1..{_MAX_SEARCH}")
        threshold = float(body.get("threshold") or 0.0)
        wanted = _words(query)
        include_document = bool((body.get("include") or {}).get("documents"))
        results = []
        for doc in self._in(namespace):
            text = doc["_indexed"]
            if text is None or not _matches(body.get("filter"), doc["metadata"]):
                continue
            similarity = len(wanted & _words(text)) / len(wanted) if wanted else 0.0
            if similarity < threshold:
                continue
            result: dict[str, Any] = {
                "id": f"chunk_{doc['id']}",
                "chunk": text,
                "metadata": dict(doc["metadata"]),
                "similarity": similarity,
                "isLatest": True,
                "isInference": False,
                "system": {"createdAt": doc["createdAt"], "updatedAt": doc["updatedAt"]},
            }
            if include_document:
                result["included"] = {"document": _document(doc, content=False, listing=True)}
            results.append(result)
        results.sort(key=lambda r: (-r["similarity"], r["id"]))
        return httpx.Response(200, json={"results": results[:limit], "searchTime": 1.0})


def _document(doc: dict[str, Any], *, content: bool, listing: bool = False) -> dict[str, Any]:
    system: dict[str, Any] = {
        "status": doc["status"],
        "dreamingStatus": "done",
        "createdAt": doc["createdAt"],
        "updatedAt": doc["updatedAt"],
    }
    if listing:
        system["memoryCount"] = 0
    return {
        "id": doc["id"],
        "title": doc["content"][:40],
        "type": "text",
        "summary": None,
        "content": doc["content"] if content else None,
        "metadata": dict(doc["metadata"]),
        "system": system,
    }


def _metadata_problem(metadata: Any) -> str | None:
    if not isinstance(metadata, dict):
        return "metadata must be an object"
    for key, value in metadata.items():
        scalar = isinstance(value, str | int | float | bool)
        strings = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not (scalar or strings):
            return f"metadata.{key} must be a string, number, boolean or array of strings"
    return None


def _matches(node: Any, metadata: dict[str, Any]) -> bool:
    """Whether ``metadata`` satisfies the filter tree ``node`` (None matches everything)."""
    if node is None:
        return True
    operator = node.get("operator")
    if operator in ("and", "or"):
        results = [_matches(child, metadata) for child in node.get("operands") or []]
        return all(results) if operator == "and" else any(results)
    have = metadata.get(node.get("field"))
    value = node.get("value")
    if operator in ("eq", "neq"):
        if isinstance(value, str) and isinstance(have, str) and node.get("caseSensitive") is False:
            same = have.lower() == value.lower()
        else:
            numbers = all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in (have, value)
            )
            same = have == value and (numbers or type(have) is type(value))
        return same if operator == "eq" else not same
    if operator in ("gt", "gte", "lt", "lte"):
        if not isinstance(have, int | float) or isinstance(have, bool):
            return False
        bound = float(value)
        return bool(
            {"gt": have > bound, "gte": have >= bound, "lt": have < bound, "lte": have <= bound}[
                operator
            ]
        )
    if operator in ("contains", "notContains"):
        found = isinstance(have, str) and str(value) in have
        return found if operator == "contains" else not found
    if operator in ("arrayContains", "arrayNotContains"):
        found = isinstance(have, list) and value in have
        return found if operator == "arrayContains" else not found
    return False
