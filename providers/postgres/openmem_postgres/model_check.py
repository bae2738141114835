"""Refusing vector search over memories embedded by another model.

``connect`` finds at open whether the table holds rows of another embedding model at all
(``OpenStore.foreign_models``); only then is the question asked per user, so the common
case costs nothing and one tenant's unmigrated rows never block another's searches.
"""

from __future__ import annotations

from openmem.errors import EmbeddingModelMismatchError
from openmem.provider import Caller
from openmem_postgres.runner import PROVIDER
from openmem_postgres.store import OpenStore

__all__ = ["refuse_mixed_models"]


async def refuse_mixed_models(store: OpenStore, caller: Caller) -> None:
    """Raise ``EmbeddingModelMismatchError`` if the caller has rows of another model."""
    if not store.foreign_models:
        return
    model = store.embedder.model
    stored = await store.runner.fetch(
        f"SELECT DISTINCT embedding_model FROM {store.statements.schema}.memories"
        " WHERE namespace = $1 AND user_id = $2 AND embedding_model <> $3 LIMIT 10",
        caller.namespace,
        caller.user_id,
        model,
    )
    if stored:
        models = sorted(str(r["embedding_model"]) for r in stored)
        raise EmbeddingModelMismatchError(
            f"stored memories were embedded with {', '.join(models)}, but "
            f"this provider embeds with {model}; searching them together "
            "would compare unrelated vectors. Run `openmem reembed` to re-embed them, or set "
            "embedder_model to the model they were embedded with.",
            provider=PROVIDER,
            details={"stored_models": models, "model": model},
        )
