"""Settings of the powermem provider (its SQLite store, offline, on worker threads)."""

from __future__ import annotations

from typing import ClassVar

from openmem.translation import TranslationOptions

__all__ = ["PowermemOptions"]


class PowermemOptions(TranslationOptions):
    """Options of ``PowermemProvider``; every field can come from ``OPENMEM_<FIELD>``.

    >>> PowermemProvider(data_dir="/var/lib/app", embedder="hashing")

    The settings every translation adapter shares (``data_dir``, ``collection``, ``infer``,
    ``llm``, worker threads) are ``TranslationOptions``'; the SQLite database lives at
    ``<data_dir>/<collection>.db``.
    """

    data_dir_name: ClassVar[str] = "powermem"

    serialize: bool = True
    """One powermem call at a time. Its SQLite store locks internally, but concurrent add and
    query through one ``Memory`` are reported unsafe upstream (powercontext#264)."""
