"""The conformance checks; importing this package registers every one of them."""

from openmem_conformance.checks import (  # noqa: F401 - imported to register
    cancellation,
    honesty,
    isolation,
    lifecycle,
    listing,
    model,
    optional,
    robustness,
    verbs,
)
