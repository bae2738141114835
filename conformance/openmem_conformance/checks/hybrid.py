"""OPTIONAL: a declared hybrid mode runs both of its halves, judged with vectors the suite knows.

A hybrid search that quietly runs only its vector half (or only its keyword half) looks
fine on friendly data. The check builds the provider again with ``ConceptEmbedder`` (see
``openmem_conformance.concept_embedder``) and plants two memories that only one half can
find each: one sharing a rare token with the query but orthogonal to it in vector space,
one sharing no word with the query but its concept vector. Near misses (a weakly related
concept, no query word) outnumber the result limit, so a half that is missing leaves its
memory out of the results instead of at the bottom of them.
"""

from __future__ import annotations

import dataclasses

from openmem.models import SearchHit
from openmem_conformance.check_context import CheckContext
from openmem_conformance.concept_embedder import ConceptEmbedder, with_embedder
from openmem_conformance.expect import assert_hits_well_formed
from openmem_conformance.registry import Tier, check

RARE_TOKEN = "zq7731"
QUERY = f"automobile {RARE_TOKEN}"
LEXICAL_ONLY = f"ticket {RARE_TOKEN} concerns the login page"
"""Shares the rare token with the query; no concept word, so orthogonal to it as a vector."""
SEMANTIC_ONLY = "the car needs new tyres"
"""Shares no word with the query; "car" is the query's concept ("automobile")."""
NEAR_MISSES = [
    "a bicycle with a red frame",
    "the bicycle shop opens late",
    "bicycle lanes along the river",
    "a bicycle helmet was on sale",
    "the bicycle chain squeaks",
]
"""No query word; a concept at cosine 0.2 to the query: above LEXICAL_ONLY in the vector half."""
LIMIT = 3

CONCEPTS = {
    "automobile": [1.0, 0.0],
    "car": [1.0, 0.0],
    "bicycle": [0.2, 0.98],
}


@check(Tier.OPTIONAL, requires=("feature:hybrid_search",))
async def hybrid_search_finds_what_either_half_finds(ctx: CheckContext) -> None:
    """mode="hybrid" finds what only its keyword half finds and what only its vector half finds.

    Troubleshooting: with ``features.hybrid_search``, run the keyword and the vector search
    and fuse both rankings (e.g. reciprocal-rank fusion), normalising the fused score into
    [0, 1]. The suite rebuilds the provider from its options with ``embedder=`` set to an
    embedder of known geometry, so a provider whose options are ``EmbedderOptions`` must
    embed with ``options.build_embedder()``. Its report says ``embedder_controlled``: when
    false (an OMP server, a backend that embeds by itself) only the keyword half is rated.
    """
    embedder = ConceptEmbedder(CONCEPTS)
    sibling = with_embedder(ctx.raw, embedder)
    if isinstance(sibling, str):
        await _rare_term_ranks_first(ctx, reason=sibling)
        return
    async with ctx.memory_over(sibling) as mem:
        controlled = dataclasses.replace(ctx, mem=mem, raw=sibling)
        user = ctx.user()
        lexical = await controlled.add(LEXICAL_ONLY, user_id=user)
        semantic = await controlled.add(SEMANTIC_ONLY, user_id=user)
        await controlled.add_all(NEAR_MISSES, user_id=user)
        if embedder.texts_embedded == 0:
            await _rare_term_ranks_first(
                ctx,
                reason=f"{type(sibling).__name__} accepted embedder= but never called it",
            )
            return
        hits = await mem.search(QUERY, user, mode="hybrid", limit=LIMIT)
    roles = [_label(h, lexical.id, semantic.id) for h in hits]
    ctx.note(embedder_controlled=True, hybrid_top=roles)
    assert_hits_well_formed(hits, user_id=user, limit=LIMIT, what="hybrid search")
    found = {h.memory.id for h in hits}
    assert lexical.id in found, (
        f"hybrid search missed the memory only its keyword half can find (it shares the rare "
        f"token {RARE_TOKEN!r} with the query, its vector is orthogonal): the keyword half "
        "does not run"
    )
    assert semantic.id in found, (
        "hybrid search missed the memory only its vector half can find (no word in common "
        "with the query, the same concept vector): the vector half does not run"
    )


async def _rare_term_ranks_first(ctx: CheckContext, *, reason: str) -> None:
    """What the suite can see without its own embedder: a rare query term ranks first."""
    ctx.note(
        embedder_controlled=False,
        rated_on=f"the suite could not control the embedder ({reason}): only the keyword half "
        "of hybrid search was rated (a rare query term ranks first), not the vector half",
    )
    user = ctx.user()
    target = await ctx.add("ticket QX-4471 is about the login page", user_id=user)
    await ctx.add_all(
        ["the login page is slow", "tickets are triaged on monday", "page layout is nice"],
        user_id=user,
    )
    hits = await ctx.mem.search("QX-4471", user, mode="hybrid", limit=10)
    assert_hits_well_formed(hits, user_id=user, limit=10, what="hybrid search")
    assert hits, "hybrid search found nothing"
    assert hits[0].memory.id == target.id, "hybrid search did not rank the match first"


def _label(hit: SearchHit, lexical_id: str, semantic_id: str) -> str:
    role = {lexical_id: "keyword-only", semantic_id: "vector-only"}.get(hit.memory.id, "near-miss")
    return f"{role} {hit.score:.3f}"
