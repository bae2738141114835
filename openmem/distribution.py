"""The name openmem is installed under, and the install command every hint prints.

The import package is ``openmem``; the distribution is ``openmem-layer`` because the package
index's ``openmem`` (and ``openmem-core``, ``openmem-cli``) belong to other projects. Every
"install it with" message goes through :func:`install_command` so none names a package that is
not ours.
"""

from __future__ import annotations

__all__ = ["DISTRIBUTION", "install_command"]

DISTRIBUTION = "openmem-layer"


def install_command(extra: str | None = None) -> str:
    """The ``pip install`` line for this distribution, with an optional extra."""
    if extra is None:
        return f"pip install {DISTRIBUTION}"
    return f"pip install '{DISTRIBUTION}[{extra}]'"
