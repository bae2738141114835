"""POST /memories with messages, the server's chat model, and the passthrough client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from openmem import AsyncMemory, Memory
from openmem.inmemory import InMemoryProvider
from openmem.llm import ChatClient, LLMOptions
from openmem.llm.fake import FakeChatServer, FakeLLM
from openmem.passthrough import PassthroughProvider
from openmem.server import ServerSettings, create_app

RULES = FakeLLM(
    facts={"live in lisbon": ["Lives in Lisbon"], "moved to porto": ["Lives in Porto"]},
    replaces={"Lives in Porto": "Lisbon"},
)
LISBON = [{"role": "user", "content": "I live in Lisbon"}]
PORTO = [{"role": "user", "content": "I moved to Porto"}]


@pytest.fixture
async def server(client: ChatClient) -> AsyncIterator[httpx.AsyncBaseTransport]:
    """An OMP server over the in-memory provider whose chat model is the FAKE one."""
    app = create_app(ServerSettings(auth=False), provider=InMemoryProvider(), llm=client)
    async with LifespanManager(app) as manager:
        yield httpx.ASGITransport(manager.app)


async def test_the_server_infers_a_posted_conversation(
    fake_llm: FakeChatServer, server: httpx.AsyncBaseTransport
) -> None:
    fake_llm.responder = RULES
    async with httpx.AsyncClient(transport=server, base_url="http://omp.test") as http:
        caps = (await http.get("/capabilities")).json()
        assert caps["features"]["infer"] == "pipeline"
        assert "memories:messages" in caps["x-openmem"]["extensions"]
        first = await http.post(
            "/memories", json={"user_id": "u1", "messages": LISBON, "infer": True}
        )
        assert first.status_code == 201
        assert [m["content"] for m in first.json()["items"]] == ["Lives in Lisbon"]
        second = await http.post(
            "/memories", json={"user_id": "u1", "messages": PORTO, "infer": True}
        )
        (porto,) = second.json()["items"]
        assert porto["supersedes"] == [first.json()["items"][0]["id"]]
        plain = await http.post("/memories", json={"user_id": "u1", "messages": PORTO})
        assert [m["content"] for m in plain.json()["items"]] == ["I moved to Porto"]


async def test_a_bad_conversation_names_its_field(server: httpx.AsyncBaseTransport) -> None:
    async with httpx.AsyncClient(transport=server, base_url="http://omp.test") as http:
        bad = await http.post(
            "/memories", json={"user_id": "u1", "messages": [{"role": "boss", "content": "x"}]}
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["field"] == "messages.0.role"
        both = await http.post(
            "/memories", json={"user_id": "u1", "content": "x", "messages": LISBON}
        )
        assert both.status_code == 400
        plain = await http.post("/memories", json={"user_id": "u1", "content": ""})
        assert plain.json()["error"]["field"] == "content"


async def test_a_server_without_a_chat_model_declares_no_inference() -> None:
    app = create_app(ServerSettings(auth=False), provider=InMemoryProvider())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://omp.test") as http:
            caps = (await http.get("/capabilities")).json()
            assert caps["features"]["infer"] == "none"
            refused = await http.post(
                "/memories", json={"user_id": "u1", "messages": LISBON, "infer": True}
            )
            assert refused.json()["error"]["code"] == "unsupported_capability"


async def test_passthrough_hands_the_conversation_to_the_server(
    fake_llm: FakeChatServer, server: httpx.AsyncBaseTransport
) -> None:
    fake_llm.responder = RULES
    remote = PassthroughProvider(base_url="http://omp.test", transport=server)
    async with AsyncMemory(remote) as mem:
        assert (await mem.capabilities()).features.infer == "backend"
        (lisbon,) = await mem.add(messages=LISBON, user_id="u1", infer=True)
        (porto,) = await mem.add(messages=PORTO, user_id="u1", infer=True)
        assert porto.supersedes == [lisbon.id]


async def test_options_build_a_client_that_closes_with_the_memory(
    fake_llm: FakeChatServer,
) -> None:
    fake_llm.responder = RULES
    options = LLMOptions(base_url=fake_llm.url, model="m")
    mem = AsyncMemory(provider="inmemory", llm=options)
    async with mem:
        (record,) = await mem.add(messages=LISBON, user_id="u1", infer=True)
        assert record.metadata["openmem_infer"]["model"] == "m"
    assert mem._inference is not None
    assert mem._inference.client._http.is_closed


def test_the_sync_facade_infers_too(fake_llm: FakeChatServer) -> None:
    fake_llm.responder = RULES
    with Memory(provider="inmemory", llm={"base_url": fake_llm.url, "model": "m"}) as mem:
        (record,) = mem.add(messages=LISBON, user_id="u1", infer=True)
        assert record.content == "Lives in Lisbon"
