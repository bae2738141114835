"""The conformance checks; importing this package registers every one of them."""

from openmem_conformance.checks import (  # noqa: F401 - imported to register
    verbs,
    listing,
    isolation,
    lifecycle,
    model,
    optional,
    robustness,
    cancellation,
    honesty,
)
