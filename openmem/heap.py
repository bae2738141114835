"""The objects alive once a provider is open, moved out of the garbage collector's sight.

A full (generation 2) collection walks every tracked object of the process. With the
provider open (pydantic schemas, SQL text, driver caches, imported modules: about 54,000
objects), one took 33 ms of CPU on the event loop here, and the collector runs one whenever
enough objects have survived since the last, every few thousand searches at c=32: the
largest single stall of the loop (benchmarks/results/profile.md). ``gc.freeze()`` moves the
objects alive at that moment to a permanent generation no collection walks, so a full
collection afterwards scans only what was created since (well under a millisecond).

The trade-off: an object frozen here and later part of a reference cycle that becomes garbage
is never reclaimed by the collector (reference counting still frees everything else). It is
done once per process, after a collection, so only objects alive at start-up are frozen:
modules, classes, schemas and caches that live as long as the process. Opt out with
``freeze_gc_at_open=False`` (``OPENMEM_FREEZE_GC_AT_OPEN=false``).
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap"]

_frozen = False


def freeze_startup_heap() -> bool:
    """Collect, then freeze every object alive now; once per process. True the first time."""
    global _frozen
    if _frozen:
        return False
    _frozen = True
    gc.collect()
    gc.freeze()
    return True
