"""The conformance checks; importing this package registers every one of them.

Modules are imported in this order, which is the order checks run and are reported in.
"""

from importlib import import_module

MODULES = (
    "verbs",
    "listing",
    "isolation",
    "lifecycle",
    "model",
    "optional",
    "hybrid",
    "client_keys",
    "infer",
    "async_ingest",
    "robustness",
    "cancel_timing",
    "cancel_sweep",
    "honesty",
    "declarations",
    "wire_declarations",
)

for _module in MODULES:
    import_module(f"{__name__}.{_module}")
