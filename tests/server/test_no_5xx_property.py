"""No generated request answers 5xx: a Hypothesis property over the wire models.

Each example is one HTTP request to a live app (in process, its lifespan running) over the
in-memory provider and over the real PostgreSQL provider. Bodies start from a valid body of
the route's wire model and have fields replaced by hostile JSON (calendar edges with offsets,
lone surrogates, NUL, huge numbers, NaN, wrong types, nesting) or unknown keys added; query
strings carry invalid UTF-8 and edge values; paths and headers carry odd bytes. Whatever the
input, the answer is below 500 and, when it is an error, it is the OMP envelope.

Deterministic (``derandomize``) and bounded (``EXAMPLES``), so it runs in seconds in CI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from openmem.inmemory import InMemoryProvider
from openmem.models import MemoryInput, MemoryPatch
from openmem.provider import Provider
from openmem.server import ServerSettings, create_app
from openmem.server.wire import (
    BatchAddRequest,
    BatchItem,
    ContextRequest,
    ConversationRequest,
    SearchRequest,
)

EXAMPLES = 40
"""Examples per route and provider: the whole file stays well under a minute on 2 cores."""

PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

EDGE_DATES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999+00:00",
    "0000-01-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T00:00:00+24:00",
    "1970-01-01",
    "-0001-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "99999999999",
    "-99999999999",
    "1e308",
]
ODD_TEXT = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "a\x00b",
    "\ufeff",
    "\u202e",
    "",
    " ",
    "/",
    "//",
    "a//b",
    "*",
    "a/*/b",
    "%",
    "\\",
    "'; select 1; --",
    "$1",
    "x" * 5_000,
    "é" * 300,
    "mem_01J0000000000000000000000",
]

text = st.one_of(st.sampled_from(ODD_TEXT + EDGE_DATES), st.text(max_size=40))
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 2**64, 10**400]),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
hostile = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)


def _fields(*models: type[Any]) -> list[str]:
    names: set[str] = set()
    for model in models:
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
    return sorted(names)


PLAUSIBLE: list[Any] = [
    "tea",
    "work/python",
    ["a", "b"],
    [],
    {"k": "v"},
    {"source": 1},
    0.5,
    10,
    True,
    "hybrid",
    "2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00+14:00",
    ["mem_x"],
    {"app": "a", "type": "explicit"},
]
value = st.one_of(st.sampled_from(PLAUSIBLE + EDGE_DATES), hostile)
GOOD: dict[str, list[Any]] = {
    "query": ["tea", "é" * 10, "t" * 8_000],
    "content": ["coffee", "ü" * 50],
    "user_id": ["u1", "u2"],
    "supersedes": [[], ["mem_unknown"]],
    "messages": [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]],
    "scope": ["work", "work/python", "*", "work/*"],
    "tags": [["a"], ["a", "b"]],
    "filters": [{"k": "v"}, {"k": 1}, {"k": None}],
    "mode": ["semantic", "keyword", "hybrid"],
    "limit": [1, 100],
    "min_score": [0, 1, 0.5],
    "include_inactive": [True, False],
    "token_budget": [1, 50, 100_000],
    "confidence": [0, 1, 0.25],
    "valid_from": ["2024-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z", *EDGE_DATES[:4]],
    "valid_to": ["2030-01-01T00:00:00Z", "9999-12-31T23:59:59Z", *EDGE_DATES[:4]],
    "metadata": [{"a": {"b": [1, 2.5, None]}}, {"a": None}],
    "source": [{"app": "a", "type": "explicit", "ref": "r"}],
    "agent_id": ["agent"],
    "session_id": ["s"],
    "idempotency_key": ["k1", "k2"],
    "infer": [False],
}
"""Valid values per field, so that examples also get past validation into the provider."""


def _changes(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    def one(key: str) -> st.SearchStrategy[Any]:
        good = st.sampled_from(GOOD.get(key, PLAUSIBLE))
        return st.one_of(good, good, value)

    return st.fixed_dictionaries({key: one(key) for key in keys})


def mutated(base: dict[str, Any], *models: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some of the models' fields set to odd values, some dropped, some added.

    Keys are mostly the models' own fields (an unknown key is refused before anything else
    runs, so it explores little); values are plausible ones, calendar edges and hostile JSON.
    """
    fields = st.sampled_from(_fields(*models))
    keys = st.one_of(fields, fields, fields, text)
    return st.builds(
        lambda changes, dropped: {
            **{k: v for k, v in base.items() if k not in dropped},
            **changes,
        },
        st.lists(keys, min_size=1, max_size=3, unique=True).flatmap(_changes),
        st.sets(st.sampled_from(sorted(base)), max_size=1),
    )


def _nested_source() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"source": st.dictionaries(text, hostile, max_size=3)})


ADD = {"content": "likes tea", "user_id": "u1"}
BODIES: dict[tuple[str, str], st.SearchStrategy[dict[str, Any]]] = {
    ("POST", "/memories"): st.one_of(
        mutated(ADD, MemoryInput),
        mutated(
            {"user_id": "u1", "messages": [{"role": "user", "content": "hi"}]},
            ConversationRequest,
        ),
        _nested_source().map(lambda extra: {**ADD, **extra}),
    ),
    ("POST", "/memories:batch"): st.one_of(
        mutated({"user_id": "u1", "items": [{"content": "x"}]}, BatchAddRequest),
        st.lists(mutated({"content": "x"}, BatchItem), min_size=1, max_size=3).map(
            lambda items: {"user_id": "u1", "items": items}
        ),
    ),
    ("POST", "/memories/search"): mutated({"query": "tea", "user_id": "u1"}, SearchRequest),
    ("POST", "/context"): mutated({"query": "tea", "user_id": "u1"}, ContextRequest),
    ("PATCH", "/memories/{id}"): mutated({"user_id": "u1", "content": "y"}, MemoryPatch),
}

QUERY_PARAMS = {
    "/memories": ["user_id", "scope", "tag", "tags", "since", "until", "limit", "cursor"],
    "/memories/search": [
        "q",
        "user_id",
        "scope",
        "tag",
        "tags",
        "mode",
        "limit",
        "min_score",
        "include_inactive",
    ],
    "/audit": ["user_id", "app", "action", "since", "limit"],
}
query_value = st.one_of(
    text.map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")),
    st.binary(max_size=12).map(lambda b: quote_from_bytes(b, safe="")),
    st.sampled_from(["u1", "1", "0", "-1", "1e9", "nan", "inf", "true", "hybrid", "add"]),
)


def query_string(path: str) -> st.SearchStrategy[str]:
    """A query string of the route's parameters (and some unknown ones), oddly valued."""
    names = st.one_of(st.sampled_from(QUERY_PARAMS[path]), st.sampled_from(["x", "", "%ff"]))
    pairs = st.lists(st.tuples(names, query_value), max_size=6)
    required = [("user_id", "u1"), *([("q", "tea")] if path == "/memories/search" else [])]
    return pairs.map(lambda ps: "&".join(f"{k}={v}" for k, v in [*required, *ps]))


path_segment = st.one_of(
    st.sampled_from(["mem_x", "%00", "%ED%A0%80", "%ff", "..", "x" * 300, "%20"]),
    st.binary(min_size=1, max_size=12).map(lambda b: quote_from_bytes(b, safe="")),
)
header_value = st.binary(max_size=40).map(
    lambda b: bytes(c for c in b if c not in (10, 13, 0)) or b"x"
)


def _encode(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=True, allow_nan=True).encode("ascii")


def assert_no_5xx(client: TestClient, method: str, url: str, **kwargs: Any) -> None:
    """The answer is below 500; an error answer is the OMP envelope."""
    response = client.request(method, url, **kwargs)
    assert response.status_code < 500, (method, url, kwargs, response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"], response.text
        assert error["type"], response.text


@pytest.fixture(scope="module", params=["inmemory", "postgres"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, str]]:
    """A no-auth app with its lifespan running, and the id of one stored memory of ``u1``."""
    provider: Provider[Any]
    if request.param == "postgres":
        from openmem_postgres import PostgresProvider

        provider = PostgresProvider(
            embedder="hashing", url=request.getfixturevalue("postgres_url"), pool_max_size=1
        )
    else:
        provider = InMemoryProvider()
    app = create_app(ServerSettings(auth=False, namespace="no5xx"), provider=provider)
    with TestClient(app, raise_server_exceptions=False) as client:
        stored = client.post("/memories", json={"content": "seed", "user_id": "u1"})
        assert stored.status_code == 201, stored.text
        yield client, stored.json()["id"]
        # The pool of one connection still answers after everything above (no poisoning).
        after = client.get(f"/memories/{stored.json()['id']}", params={"user_id": "u1"})
        assert after.status_code == 200, after.text


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("route", sorted(BODIES), ids=lambda r: f"{r[0]} {r[1]}")
def test_no_body_answers_5xx(served: tuple[TestClient, str], route: tuple[str, str]) -> None:
    client, memory_id = served
    method, template = route

    @PROPERTY
    @given(body=BODIES[route])
    def check(body: dict[str, Any]) -> None:
        url = template.replace("{id}", memory_id) + "?user_id=u1" * (method == "PATCH")
        assert_no_5xx(client, method, url, content=_encode(body), headers=JSON)

    check()


@pytest.mark.parametrize("path", sorted(QUERY_PARAMS))
def test_no_query_answers_5xx(served: tuple[TestClient, str], path: str) -> None:
    client, _ = served

    @PROPERTY
    @given(query=query_string(path))
    def check(query: str) -> None:
        assert_no_5xx(client, "GET", f"{path}?{query}")

    check()


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_no_id_or_user_header_answers_5xx(served: tuple[TestClient, str], method: str) -> None:
    client, _ = served

    @PROPERTY
    @given(segment=path_segment, user=header_value, key=header_value)
    def check(segment: str, user: bytes, key: bytes) -> None:
        headers = {"x-user-id": user, "idempotency-key": key, **JSON}
        body = b'{"content": "z"}' if method == "PATCH" else None
        assert_no_5xx(client, method, f"/memories/{segment}", content=body, headers=headers)

    check()


def test_no_raw_body_answers_5xx(served: tuple[TestClient, str]) -> None:
    """Bytes that are not JSON, or not UTF-8, or JSON of the wrong shape."""
    client, _ = served
    raw = st.one_of(
        st.binary(max_size=64),
        hostile.map(_encode),
        st.sampled_from([b'{"content": "\\ud800x", "user_id": "u1"}', b"[]", b"null", b"{"]),
    )

    @PROPERTY
    @given(body=raw, path=st.sampled_from(["/memories", "/memories:batch", "/context"]))
    def check(body: bytes, path: str) -> None:
        assert_no_5xx(client, "POST", path, content=body, headers=JSON)

    check()
