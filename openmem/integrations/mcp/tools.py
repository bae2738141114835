"""The MCP tools over one ``AsyncMemory``, and who they act for.

Each tool is a thin call of an ``AsyncMemory`` verb whose answer is JSON (the wire models'
own dump), with a description written for the model that will call it. The user is resolved
per call by ``Identity``: the configured user over stdio; over HTTP the API key's (a key
bound to one user), or the configured user, with the key's verb and scope restrictions
applied exactly as ``openmem serve`` applies them. Errors come back as tool errors carrying
openmem's stable code.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from openmem.errors import OMPError, UnauthorizedError
from openmem.memory import AsyncMemory
from openmem.provider import Caller

__all__ = ["INSTRUCTIONS", "Identity", "build_mcp_server"]

T = TypeVar("T")

INSTRUCTIONS = (
    "Long-term memory of the user you are talking to. Search it before answering anything "
    "that may depend on what the user told you earlier (preferences, facts about them, "
    "decisions); add a memory when the user states something durable about themselves. "
    "Keep each memory one short self-contained fact. The user is fixed by the server: "
    "never try to act for another user."
)

Scope = Annotated[
    str | None,
    Field(
        description="Optional slash-separated topic, e.g. 'work/projects'. On reads a scope "
        "also matches everything below it."
    ),
]


@dataclass(frozen=True)
class Identity:
    """Who the tools act for: a fixed user, and over HTTP the API keys that may call.

    ``key_store`` (``openmem.server.keys.KeyStore``) turns on API keys: every call must carry
    ``Authorization: Bearer <key>`` (or ``X-API-Key``) of a key bound to ``namespace``; the
    user is the key's when it names exactly one, else ``user_id``.
    """

    user_id: str | None = None
    key_store: Any = None
    namespace: str = "default"

    def resolve(self, ctx: Context | None, verb: str) -> tuple[str, Any]:
        """The user for this call and the server ``Principal`` (None without API keys)."""
        request = _http_request(ctx)
        if self.key_store is None or request is None:
            if self.user_id is None:
                raise UnauthorizedError("no user configured: start openmem mcp with --user-id")
            return self.user_id, None
        from openmem.server.auth import authenticate

        principal = authenticate(
            request.headers,
            store=self.key_store,
            default_namespace=self.namespace,
            requested_namespace=None,
        )
        if principal.namespace != self.namespace:
            raise UnauthorizedError("this API key is bound to another namespace")
        principal.require_verb(verb)
        users = principal.key.users if principal.key is not None else None
        user = users[0] if users and len(users) == 1 else self.user_id
        if user is None:
            raise UnauthorizedError(
                "the API key names no single user and the server has no --user-id"
            )
        principal.require_user(user)
        return user, principal


def _http_request(ctx: Context | None) -> Any:
    if ctx is None:
        return None
    try:
        return ctx.request_context.request
    except (AttributeError, ValueError, LookupError):
        return None


async def _answer(call: Awaitable[T], dump: Callable[[T], Any]) -> str:
    try:
        result = await call
    except OMPError as exc:
        # The model sees the stable code and the message, never a traceback.
        raise ToolError(f"{exc.error_code}: {exc.message}") from exc
    return json.dumps(dump(result), ensure_ascii=False)


def _model(value: Any) -> Any:
    return value.model_dump(mode="json", exclude_none=True, by_alias=True)


def build_mcp_server(memory: AsyncMemory, identity: Identity) -> MCPServer:
    """An ``MCPServer`` whose tools call ``memory`` for the user ``identity`` resolves."""
    server: MCPServer = MCPServer(name="openmem", instructions=INSTRUCTIONS)

    def who(ctx: Context, verb: str) -> tuple[str, Any]:
        try:
            return identity.resolve(ctx, verb)
        except OMPError as exc:
            raise ToolError(f"{exc.error_code}: {exc.message}") from exc

    def narrowed(principal: Any, scope: str | None) -> str | None:
        if principal is None:
            return scope
        try:
            return principal.narrow_filter(scope)  # type: ignore[no-any-return]
        except OMPError as exc:
            raise ToolError(f"{exc.error_code}: {exc.message}") from exc

    @server.tool(
        description="Remember one durable fact about the user (a preference, a fact about "
        "them, a decision). Returns the stored memory with its id. Pass key= to keep one "
        "memory per key (a second add with the same key and scope replaces the first)."
    )
    async def add_memory(
        content: Annotated[str, Field(description="The fact, one short sentence.")],
        ctx: Context,
        scope: Scope = None,
        tags: Annotated[list[str] | None, Field(description="Optional labels.")] = None,
        key: Annotated[
            str | None, Field(description="Optional stable name of this memory, e.g. 'diet'.")
        ] = None,
    ) -> str:
        user, principal = who(ctx, "add")
        if principal is not None:
            try:
                principal.require_write_scope(scope)
            except OMPError as exc:
                raise ToolError(f"{exc.error_code}: {exc.message}") from exc
        return await _answer(
            memory.add(content, user_id=user, scope=scope, tags=tags, key=key), _model
        )

    @server.tool(
        description="Find the user's memories relevant to a question, best first, each with "
        "a score in [0, 1]. Use before answering anything that depends on the user."
    )
    async def search_memories(
        query: Annotated[str, Field(description="What to look for, in natural language.")],
        ctx: Context,
        scope: Scope = None,
        limit: Annotated[int, Field(ge=1, le=50, description="How many at most.")] = 5,
    ) -> str:
        user, principal = who(ctx, "search")
        hits = memory.search(query, user, scope=narrowed(principal, scope), limit=limit)
        return await _answer(hits, lambda found: [_model(h) for h in found])

    @server.tool(
        description="Prompt-ready text of the user's memories most relevant to a question, "
        "with [mem_...] citations, within a token budget."
    )
    async def get_context(
        query: Annotated[str, Field(description="The question or task at hand.")],
        ctx: Context,
        scope: Scope = None,
        token_budget: Annotated[
            int, Field(ge=0, le=100_000, description="Tokens the text may use.")
        ] = 500,
    ) -> str:
        user, principal = who(ctx, "context")
        block = memory.context(
            query, user, scope=narrowed(principal, scope), token_budget=token_budget
        )
        return await _answer(block, _model)

    @server.tool(
        description="List the user's memories, newest first. Pass the returned next_cursor "
        "to get the next page."
    )
    async def list_memories(
        ctx: Context,
        scope: Scope = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Page size.")] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of a page.")] = None,
    ) -> str:
        user, principal = who(ctx, "list")
        page = memory.list(user, scope=narrowed(principal, scope), limit=limit, cursor=cursor)
        return await _answer(page, _model)

    @server.tool(
        description="Correct a memory by id (from search or list): new content and/or scope "
        "or tags. Omitted fields stay as they are."
    )
    async def update_memory(
        id: Annotated[str, Field(description="The memory id, mem_...")],
        ctx: Context,
        content: Annotated[str | None, Field(description="The corrected fact.")] = None,
        scope: Scope = None,
        tags: Annotated[list[str] | None, Field(description="Replacement labels.")] = None,
    ) -> str:
        user, principal = who(ctx, "update")
        if principal is not None:
            await _visible(memory, principal, user, id)
        fields: Mapping[str, Any] = {
            k: v
            for k, v in {"content": content, "scope": scope, "tags": tags}.items()
            if v is not None
        }
        return await _answer(memory.update(id, user_id=user, **fields), _model)

    @server.tool(
        description="Forget one memory by id (from search or list), e.g. when the user asks "
        "you to or it is no longer true."
    )
    async def delete_memory(
        id: Annotated[str, Field(description="The memory id, mem_...")], ctx: Context
    ) -> str:
        user, principal = who(ctx, "delete")
        if principal is not None:
            await _visible(memory, principal, user, id)
        return await _answer(memory.delete(id, user_id=user), lambda _: {"deleted": id})

    return server


async def _visible(memory: AsyncMemory, principal: Any, user: str, memory_id: str) -> None:
    """A memory outside the key's scopes is not found, as on the server's by-id routes."""
    try:
        caller = Caller(namespace=memory.namespace, user_id=user)
        record = await memory.provider.lookup(caller, memory_id)
        principal.require_visible(record, memory_id)
    except OMPError as exc:
        raise ToolError(f"{exc.error_code}: {exc.message}") from exc
