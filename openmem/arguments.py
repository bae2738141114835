"""Verb arguments into request models: the binding half of ``AsyncMemory``.

Every verb of ``AsyncMemory`` (and so of ``Memory``) turns its Python arguments into one of
the wire models here, so a bad argument becomes ``InvalidRequestError`` with the field named,
before the capability gate and before any I/O.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from openmem.errors import InvalidRequestError
from openmem.models import MemoryInput, MemoryPatch, MemorySource, invalid_request_from

__all__ = [
    "UNSET",
    "SourceArg",
    "Unset",
    "batch_item",
    "build_patch",
    "build_request",
    "extension_fields",
]

ModelT = TypeVar("ModelT", bound=BaseModel)


class Unset(enum.Enum):
    """The type of ``UNSET``: "leave this field as it is" in ``update``."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET
"""Default of every ``update`` field: unchanged. ``None`` clears the field instead."""

SourceArg = MemorySource | Mapping[str, Any] | None
"""What ``source=`` accepts: the model, or a dict of its fields."""


def build_request(model: type[ModelT], *, keep_none: bool = False, **fields: Any) -> ModelT:
    """Validate arguments into a request model; errors become ``InvalidRequestError``."""
    if not keep_none:
        fields = {k: v for k, v in fields.items() if v is not None}
    for name in ("tags", "supersedes"):
        value = fields.get(name)
        if value is not None and not isinstance(value, str | bytes):
            fields[name] = builtins.list(value)
        elif isinstance(value, str | bytes):
            raise InvalidRequestError(f"{name} must be a list of strings, not a string", field=name)
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid_request_from(exc) from None


def extension_fields(verb: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """``x_mem0=...`` keywords as ``x-mem0`` fields; anything else is a misspelt argument."""
    fields: dict[str, Any] = {}
    for key, value in given.items():
        if key.startswith("x-") and len(key) > 2:
            fields[key] = value
        elif key.startswith("x_") and len(key) > 2:
            fields["x-" + key[2:].replace("_", "-")] = value
        else:
            raise TypeError(f"{verb}() got an unexpected keyword argument {key!r}")
    return fields


def batch_item(index: int, item: str | Mapping[str, Any], user_id: str) -> MemoryInput:
    """One item of ``add_many`` as a ``MemoryInput``; errors name ``items.<index>``."""
    if isinstance(item, str):
        fields: dict[str, Any] = {"content": item}
    elif isinstance(item, Mapping):
        fields = dict(item)
        if "user_id" in fields and fields["user_id"] != user_id:
            raise InvalidRequestError(
                "items of a batch belong to the batch's user_id", field=f"items.{index}.user_id"
            )
    else:
        raise InvalidRequestError(
            "batch items are strings or dicts of add fields", field=f"items.{index}"
        )
    fields["user_id"] = user_id
    try:
        return build_request(MemoryInput, **fields)
    except InvalidRequestError as exc:
        field = f"items.{index}.{exc.field}" if exc.field else f"items.{index}"
        raise InvalidRequestError(f"items[{index}]: {exc.message}", field=field) from None


def build_patch(x_extensions: Mapping[str, Any], **fields: Any) -> MemoryPatch:
    """The merge-patch of ``update``: ``UNSET`` fields left out, ``None`` kept (it clears).

    Raises ``InvalidRequestError`` when nothing would change.
    """
    given = {name: value for name, value in fields.items() if value is not UNSET}
    given.update(extension_fields("update", x_extensions))
    patch = build_request(MemoryPatch, keep_none=True, **given)
    if patch.is_empty():
        raise InvalidRequestError("update needs at least one field to change")
    return patch
