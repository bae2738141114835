"""Opt in to the conformance suite's pytest plugin (it is never loaded by itself)."""

pytest_plugins = ["openmem_conformance.plugin"]
