"""A traced request: the server's request span, one verb span beneath it, SQL spans beneath that."""

from __future__ import annotations

from openmem_postgres import PostgresProvider

from openmem.server.app import create_app
from openmem.server.settings import ServerSettings
from openmem.tracing import instrument_libraries

from ..tracing_exporter import span_exporter
from .conftest import serve_asgi


async def test_request_span_is_the_parent_of_the_verb_span_and_sql_spans_are_beneath(
    postgres_url: str, pg_namespace: str
) -> None:
    assert "asyncpg" in instrument_libraries()
    provider = PostgresProvider(url=postgres_url, embedder="hashing", embedder_dim=64)
    app = create_app(ServerSettings(auth=False, namespace=pg_namespace), provider=provider)
    async with serve_asgi(app) as http:
        exporter = span_exporter()  # only the request below, not the lifespan's migrations
        response = await http.post(
            "/memories/search", json={"query": "dark mode", "user_id": "u1", "limit": 3}
        )
        assert response.status_code == 200, response.text
    spans = exporter.get_finished_spans()
    by_id = {span.context.span_id: span for span in spans}
    verb_spans = [span for span in spans if span.name.startswith("openmem.")]
    assert [span.name for span in verb_spans] == ["openmem.search"]
    verb = verb_spans[0]
    assert verb.parent is not None
    request = by_id[verb.parent.span_id]
    assert request.kind.name == "SERVER"
    assert verb.context.trace_id == request.context.trace_id
    sql = [s for s in spans if s.parent is not None and s.parent.span_id == verb.context.span_id]
    assert sql, [(s.name, s.kind.name) for s in spans]
    assert all((s.attributes or {}).get("db.system") == "postgresql" for s in sql)
