"""A FastAPI app that remembers what its users tell it, with one AsyncMemory for the app.

The memory is opened in the app's lifespan (one pool, one event loop) and shared by every
request; it is configured like any openmem app, from ``OPENMEM_*`` variables: the embedded
Postgres by default, ``OPENMEM_PROVIDER=inmemory`` for a throwaway store, or
``OPENMEM_BASE_URL=http://127.0.0.1:8080`` (+ ``OPENMEM_API_KEY``) for an `openmem serve`.

Serve it:   uvicorn examples.fastapi_app:app --port 8000
Try it:     python examples/fastapi_app.py      (in-memory store, requests in process)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel

from openmem import AsyncMemory


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the memory once for the app's life; close it after the last request."""
    async with AsyncMemory.from_env(app="fastapi-example") as memory:
        app.state.memory = memory
        yield


app = FastAPI(title="openmem FastAPI example", lifespan=lifespan)


def memory(request: Request) -> AsyncMemory:
    """The app's shared AsyncMemory, as a dependency."""
    mem: AsyncMemory = request.app.state.memory
    return mem


Memory = Annotated[AsyncMemory, Depends(memory)]


class Message(BaseModel):
    """What a user says."""

    user_id: str
    text: str


class Reply(BaseModel):
    """What the app answers: the context it would give a model, and what it stored."""

    context: str
    remembered: str


@app.post("/chat")
async def chat(message: Message, mem: Memory) -> Reply:
    """Recall what is relevant to the message, then remember the message itself."""
    block = await mem.context(message.text, message.user_id, token_budget=200)
    record = await mem.add(message.text, user_id=message.user_id, source={"app": "chat"})
    return Reply(context=block.text, remembered=record.id)


@app.get("/users/{user_id}/memories")
async def memories(user_id: str, mem: Memory) -> list[str]:
    """Everything the app remembers about a user, newest first (first page)."""
    page = await mem.list(user_id, limit=20)
    return [item.content for item in page.items]


async def _demo() -> None:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://example") as http:
            for text in (
                "I prefer dark mode in every editor",
                "I am allergic to peanuts",
                "Which editor theme should I use?",
            ):
                reply = (await http.post("/chat", json={"user_id": "u1", "text": text})).json()
                print(f"> {text}\n  context: {reply['context'] or '(nothing yet)'}")
            print("remembered:", (await http.get("/users/u1/memories")).json())


if __name__ == "__main__":
    os.environ.setdefault("OPENMEM_PROVIDER", "inmemory")
    asyncio.run(_demo())
