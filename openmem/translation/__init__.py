"""The base of translation adapters: openmem's verb set over another SDK's synchronous client.

A translation adapter (mem0, powermem, and any SDK like them) declares only what differs:
how to build and open the SDK client, and how to call it (``TranslatingProvider``'s hooks).
The rest is shared here, so every such adapter behaves alike:

- ``records``: how an openmem record rides inside the SDK's memory dict, and back;
- ``options``: the settings every adapter has (data directory, worker threads, inference);
- ``embedding``: openmem's async embedder behind the SDK's blocking embedding calls;
- ``provider``: ``TranslatingProvider``, the offloader lifecycle, capabilities, isolation,
  filters, supersession, keyset pages and idempotent adds on bounded worker threads.
"""

from openmem.translation.embedding import embed_blocking
from openmem.translation.options import TranslationOptions
from openmem.translation.provider import RawMemory, TranslatingProvider
from openmem.translation.records import (
    IDEMPOTENCY_KEY,
    OPENMEM_KEY,
    fields_of_input,
    fields_of_record,
    input_digest,
    openmem_fields,
    record_from_raw,
    superseded_marker,
    user_key,
)

__all__ = [
    "IDEMPOTENCY_KEY",
    "OPENMEM_KEY",
    "RawMemory",
    "TranslatingProvider",
    "TranslationOptions",
    "embed_blocking",
    "fields_of_input",
    "fields_of_record",
    "input_digest",
    "openmem_fields",
    "record_from_raw",
    "superseded_marker",
    "user_key",
]
