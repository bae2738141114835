"""Answers read into openmem's models, OMP 0.1 servers' looser shapes included.

openmem's models are stricter than some OMP 0.1 servers: lists and maps are ``[]``/``{}``
rather than null, scores are in [0, 1], ``token_count`` is always set. Answers are adapted
here, once, before validation; an answer that still does not validate is a
``ProviderError`` naming the model. A score outside [0, 1] is not silently fixed: it is an
``invalid_response`` error unless the caller opted into clamping (``clamp_scores``).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from openmem.context import estimate_tokens
from openmem.errors import InvalidResponseError, ProviderError
from openmem.models import ContextBlock, MemoryPage, MemoryRecord, SearchHit
from openmem.passthrough.exchange import PROVIDER_NAME

__all__ = ["checked_scores", "read", "unwrap"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def unwrap(payload: Any, key: str) -> builtins.list[Any]:
    """The list under ``key`` (``{"results": [...]}``), or a bare list."""
    # OMP 0.1 wraps lists ({"results": [...]}); some servers answer a bare list.
    if isinstance(payload, Mapping):
        payload = payload.get(key)
    if not isinstance(payload, builtins.list):
        raise ProviderError(
            f"malformed answer from the OMP server (expected {key!r})",
            provider=PROVIDER_NAME,
        )
    return payload


def _record(payload: Any) -> Any:
    # OMP 0.1 servers send null for empty lists and maps; openmem's models use [] and {}.
    if isinstance(payload, Mapping):
        payload = dict(payload)
        for name, empty in (("tags", []), ("supersedes", []), ("metadata", {})):
            if payload.get(name, empty) is None:
                payload[name] = empty
    return payload


def _hit(payload: Any) -> Any:
    if isinstance(payload, Mapping):
        payload = dict(payload)
        payload["memory"] = _record(payload.get("memory"))
    return payload


def checked_scores(scored: builtins.list[Any], *, clamp: bool, what: str) -> int:
    """Require every ``score`` of ``scored`` (hits or citations) in [0, 1]; fix them in place.

    Some OMP 0.1 servers score by raw cosine similarity, in [-1, 1]; the contract is [0, 1].
    Such an answer is refused with ``InvalidResponseError`` (``invalid_response``), or with
    ``clamp`` brought into range; returns how many scores were clamped.
    """
    clamped = 0
    for item in scored:
        score = item.get("score") if isinstance(item, dict) else None
        if not isinstance(score, int | float) or isinstance(score, bool) or 0 <= score <= 1:
            continue
        if not clamp:
            raise InvalidResponseError(
                f"the OMP server answered a {what} score of {score}, outside [0, 1]",
                provider=PROVIDER_NAME,
            )
        item["score"] = min(1.0, max(0.0, float(score)))
        clamped += 1
    return clamped


def _compatible(model: type[BaseModel], payload: Any) -> Any:
    """Read OMP 0.1 answers of other servers into openmem's stricter models."""
    if not isinstance(payload, Mapping):
        return payload
    if model is MemoryRecord:
        return _record(payload)
    if model is SearchHit:
        return _hit(payload)
    if model is MemoryPage and isinstance(payload.get("items"), builtins.list):
        return {**payload, "items": [_record(item) for item in payload["items"]]}
    if model is ContextBlock:
        fixed = dict(payload)
        if fixed.get("citations") is None:
            fixed["citations"] = []
        if fixed.get("token_count") is None and isinstance(fixed.get("text"), str):
            fixed["token_count"] = estimate_tokens(fixed["text"])
        return fixed
    return payload


def read(model: type[ModelT], payload: Any) -> ModelT:
    """``payload`` as ``model``; ``ProviderError`` when it does not fit."""
    try:
        return model.model_validate(_compatible(model, payload))
    except ValidationError as exc:
        raise ProviderError(
            f"malformed {model.__name__} from the OMP server: {exc.errors()[0].get('msg')}",
            provider=PROVIDER_NAME,
        ) from exc
