"""``openmem keys migrate``: the JSON key file's keys move into PostgreSQL, unchanged."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner
from openmem_postgres import PostgresProvider

from openmem.cli import main
from openmem.server import KeyStore


def test_keys_migrate_copies_keys_with_their_hashes_and_revocations(
    postgres_url: str, pg_namespace: str, tmp_path: Path
) -> None:
    file = KeyStore(tmp_path / "keys.json")
    live, live_record = file.create(namespace=pg_namespace, users=["ann"])
    gone, gone_record = file.create(namespace=pg_namespace)
    file.revoke(gone_record.key_id)
    args = ["keys", "migrate", "--keys-path", str(tmp_path / "keys.json"), "--provider",
            "postgres", "-o", f"url={postgres_url}", "-o", "embedder=hashing",
            "-o", "ingest_workers=0"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "copied 2 of 2 keys" in result.output
    again = CliRunner().invoke(main, args)
    assert "copied 0 of 2 keys" in again.output

    async def check() -> None:
        provider = PostgresProvider(embedder="hashing", url=postgres_url, ingest_workers=0)
        await provider.open()
        try:
            shared = await provider.open_shared_keys()
            verified = shared.verify(live)
            assert verified is not None
            assert (verified.key_id, verified.users) == (live_record.key_id, ["ann"])
            assert shared.verify(gone) is None
        finally:
            await provider.close()

    asyncio.run(check())
