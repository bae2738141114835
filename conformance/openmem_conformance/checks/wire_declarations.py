"""HONESTY: a foreign OMP server honours every feature it declares, through OMP 0.1 alone.

The passthrough client narrows a server's capabilities to what it can reach (a feature that
needs an openmem extension route is dropped), so the OPTIONAL checks never see a foreign
server's claim of ``temporal``, ``supports_supersession`` or ``keyword_search``. This check
reads the server's own declaration and proves each such claim with core requests only.
Servers that announce openmem's extensions are graded by the OPTIONAL checks instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from openmem.models import MemoryInput, SearchQuery
from openmem_conformance.check_context import CheckContext
from openmem_conformance.harness import CheckSkipped
from openmem_conformance.registry import Tier, check

__all__: list[str] = []

KEYWORD_TERMS = 3

_FILLER = (
    "the quarterly budget review moved to thursday",
    "pnpm is the package manager of the web team",
    "the staging database restarts every sunday night",
    "coffee beans arrive from the roaster on mondays",
    "the design system uses an eight point grid",
    "release notes are written by the on call engineer",
    "the office plants are watered on fridays",
    "the mobile app ships every second week",
)


async def _search_ids(ctx: CheckContext, user: str, query: str, limit: int = 10) -> list[str]:
    hits = await ctx.raw.search(ctx.caller(user), SearchQuery(query=query, limit=limit))
    return [hit.memory.id for hit in hits]


async def _temporal_is_honoured(ctx: CheckContext) -> str | None:
    user = ctx.user("temporal")
    caller = ctx.caller(user)
    now = datetime.now(UTC)
    expired = await ctx.raw.add(
        caller,
        MemoryInput(
            content=f"the door code {ctx.token} was 1234",
            user_id=user,
            valid_from=now - timedelta(days=2),
            valid_to=now - timedelta(days=1),
        ),
    )
    await ctx.raw.add(
        caller, MemoryInput(content=f"the door code {ctx.token} is 9876", user_id=user)
    )
    if expired.id in await _search_ids(ctx, user, f"door code {ctx.token}"):
        return "a memory whose valid_to has passed is still found by search"
    return None


async def _supersession_is_honoured(ctx: CheckContext) -> str | None:
    user = ctx.user("supersession")
    caller = ctx.caller(user)
    old = await ctx.raw.add(
        caller, MemoryInput(content=f"the team lunch {ctx.token} is on tuesday", user_id=user)
    )
    await ctx.raw.add(
        caller,
        MemoryInput(
            content=f"the team lunch {ctx.token} is on wednesday",
            user_id=user,
            supersedes=[old.id],
        ),
    )
    if old.id in await _search_ids(ctx, user, f"team lunch {ctx.token}"):
        return "a superseded memory is still found by search"
    return None


async def _keyword_is_honoured(ctx: CheckContext) -> str | None:
    # Three rare terms, each in one memory among many: a search that ignores words ranks
    # all three first by chance about once in 20,000 runs; a keyword search always does.
    user = ctx.user("keyword")
    caller = ctx.caller(user)
    for round_ in range(3):
        for text in _FILLER:
            await ctx.raw.add(caller, MemoryInput(content=f"{text} ({round_})", user_id=user))
    missed = []
    for n in range(KEYWORD_TERMS):
        term = f"zq{ctx.token}x{n}v"
        target = await ctx.raw.add(
            caller, MemoryInput(content=f"the wifi password is {term}", user_id=user)
        )
        if await _search_ids(ctx, user, term, limit=1) != [target.id]:
            missed.append(term)
    if missed:
        return f"a search for an exact rare term did not rank its only memory first: {missed}"
    return None


_PROBES = {
    "temporal": _temporal_is_honoured,
    "supports_supersession": _supersession_is_honoured,
    "keyword_search": _keyword_is_honoured,
}


@check(Tier.HONESTY)
async def declared_features_are_honoured_on_the_wire(ctx: CheckContext) -> None:
    """A foreign OMP server's declared temporal, supersession and keyword search all work.

    Troubleshooting: every feature ``GET /capabilities`` declares must hold through OMP 0.1's
    own requests: a memory past its ``valid_to`` leaves search (``temporal``), a memory named
    in another's ``supersedes`` leaves search (``supports_supersession``), and a search for an
    exact rare term finds the memory holding it (``keyword_search``). Declare only what holds.
    """
    declared_by_server = getattr(ctx.raw, "server_capabilities", None)
    if declared_by_server is None:
        raise CheckSkipped("not an OMP server reached over the wire")
    if getattr(ctx.raw, "announces_openmem_extensions", None) is not False:
        raise CheckSkipped("an openmem server: its features are graded by the OPTIONAL checks")
    features = declared_by_server.features
    judged: dict[str, str] = {}
    for feature, probe in _PROBES.items():
        if getattr(features, feature, False) is not True:
            judged[feature] = "not declared"
            continue
        broken = await probe(ctx)
        judged[feature] = broken or "honoured"
    ctx.note(declared_features=judged)
    unhonoured = {f: why for f, why in judged.items() if why not in ("honoured", "not declared")}
    assert not unhonoured, "declared but not honoured: " + "; ".join(
        f"{feature} ({why})" for feature, why in unhonoured.items()
    )
