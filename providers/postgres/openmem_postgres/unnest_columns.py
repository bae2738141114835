"""The array arguments of multi-row statements: one column each, read back by ``unnest(...)``.

A group of adds or searches goes to the server as one statement whose arguments are columns
(``unnest($1::text[], $2::text[], ...) WITH ORDINALITY``). The driver encodes every element
of every column on the event loop, and a group's encoding was the loop's longest single
step: about 1 us an element, 0.65 ms for 31 adds of 20 columns, most of them NULL or empty
for every row (benchmarks/results/profile.md). So:

- a column no row sets is bound as NULL: ``unnest`` pads a NULL array with NULLs like any
  shorter one, so every row reads NULL there, as it would from an array of NULLs;
- JSON values go as text, encoded here once (the empty ones without the encoder) and cast
  by the statement, rather than through the driver's per-element ``jsonb`` codec; with
  ``empty_is_null`` an empty value goes as NULL, for a statement that reads NULL as empty
  (``coalesce(x::jsonb, '{}')``, or ``ARRAY(SELECT jsonb_array_elements_text(x::jsonb))``,
  which is ``'{}'`` for NULL).

At least one column of a statement must be an array (the ids): the rows are its elements.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeVar

from openmem.errors import InvalidRequestError
from openmem_postgres.runner import PROVIDER

__all__ = ["column", "json_column"]

T = TypeVar("T")


def column(values: Iterable[T | None]) -> list[T | None] | None:
    """``values`` as one argument: NULL when every one is None."""
    bound = list(values)
    for value in bound:
        if value is not None:
            return bound
    return None


def json_column(values: Iterable[Any], *, empty_is_null: bool) -> list[str | None] | None:
    """``values`` as JSON text, NULL for None (and for an empty list or dict when
    ``empty_is_null``); NULL when every one is.

    A value JSON cannot hold (only an unvalidated model carries one) is the caller's
    ``InvalidRequestError``, as the driver's codec refused it: in a group, its add alone
    fails (``group_commit``)."""
    try:
        return column(
            None
            if value is None or (empty_is_null and not value and isinstance(value, (list, dict)))
            else json.dumps(value)
            for value in values
        )
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError("a value is not valid", provider=PROVIDER) from exc
