"""One span per verb: provider, verb, namespace, result count, error code; never content."""

from __future__ import annotations

import pytest

from openmem import AsyncMemory, NotFoundError
from openmem.tracing import user_hash

from .tracing_exporter import span_exporter


async def test_each_verb_is_one_span_with_its_attributes_and_no_content() -> None:
    exporter = span_exporter()
    async with AsyncMemory(provider="inmemory", namespace="acme") as mem:
        await mem.add("secret dark mode preference", user_id="ada@example.com", scope="ui")
        await mem.search("secret dark", "ada@example.com")
        with pytest.raises(NotFoundError):
            await mem.get("mem_nope", user_id="ada@example.com")
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"openmem.add", "openmem.search", "openmem.get"}
    added = spans["openmem.add"].attributes or {}
    assert added["openmem.provider"] == "inmemory"
    assert added["openmem.verb"] == "add"
    assert added["openmem.namespace"] == "acme"
    assert added["openmem.user_hash"] == user_hash("ada@example.com")
    assert added["openmem.result_count"] == 1
    assert (spans["openmem.search"].attributes or {})["openmem.result_count"] == 1
    failed = spans["openmem.get"]
    assert (failed.attributes or {})["openmem.error_code"] == "not_found"
    assert not failed.status.is_ok
    everything = repr([(s.attributes, s.events, s.status.description) for s in spans.values()])
    assert "secret" not in everything
    assert "ada@example.com" not in everything


async def test_a_provider_is_wrapped_once_however_often_it_is_used() -> None:
    from openmem.inmemory import InMemoryProvider
    from openmem.tracing import trace_verbs

    exporter = span_exporter()
    provider = trace_verbs(trace_verbs(InMemoryProvider()))
    async with AsyncMemory(provider=provider) as mem:
        await mem.list("u1")
    assert [span.name for span in exporter.get_finished_spans()] == ["openmem.list"]
