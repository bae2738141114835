"""The garbage collector, tuned once a provider is open: the start-up heap frozen out of its
sight, and its young generation collected less often.

A full (generation 2) collection walks every tracked object of the process. With the
provider open (pydantic schemas, SQL text, driver caches, imported modules: about 54,000
objects), one took 33 ms of CPU on the event loop here, and the collector runs one whenever
enough objects have survived since the last, every few thousand searches at c=32: the
largest single stall of the loop (benchmarks/results/profile.md). ``gc.freeze()`` moves the
objects alive at that moment to a permanent generation no collection walks, so a full
collection afterwards scans only what was created since (well under a millisecond).

The young generation (gen 0) is collected after 700 more allocations than deallocations of
tracked objects, Python's default. With 32 calls in flight each holding its rows, records
and hits, every collection finds thousands of them alive, walks them (0.2-0.3 ms) and
promotes them, and their later deallocation no longer offsets new allocations: 121
collections per 2,000 searches, the longest handle of a loop iteration in most iterations
over 0.9 ms. At 10,000 the same workload triggers none (the calls' objects die by reference
counting first), and loop lag p99 at c=32 fell from 2.15 to 1.68 ms in side-by-side runs
(benchmarks/results/profile.md). The threshold is only ever raised, never lowered, and left
alone when the application disabled the collector (threshold 0).

The trade-offs: an object frozen here and later part of a reference cycle that becomes
garbage is never reclaimed by the collector (reference counting still frees everything
else). It is done once per process, after a collection, so only objects alive at start-up
are frozen: modules, classes, schemas and caches that live as long as the process. Cyclic
garbage waits for up to 10,000 allocations instead of 700 before it is found. Opt out of
both with ``freeze_gc_at_open=False`` (``OPENMEM_FREEZE_GC_AT_OPEN=false``).
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_GENERATION_THRESHOLD", "tune_garbage_collector"]

YOUNG_GENERATION_THRESHOLD = 10_000
"""Net allocations of tracked objects before a young-generation collection (at least)."""

_tuned = False


def tune_garbage_collector() -> bool:
    """Collect, freeze every object alive now, and raise the young generation's threshold;
    once per process. True the first time."""
    global _tuned
    if _tuned:
        return False
    _tuned = True
    gc.collect()
    gc.freeze()
    young, *older = gc.get_threshold()
    if 0 < young < YOUNG_GENERATION_THRESHOLD:
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *older)
    return True
