"""One SDK under the peer-neutral workload of ``benchmarks/peers.py``, in its own process.

Standard library only at import time, because it runs inside each SDK's own virtual
environment (the reference OMP SDK's distribution is also named ``openmem`` and lives in
``.venv-reference``). The driver passes a JSON job file; the last line printed is the JSON
result. Every SDK gets the same embedder (``feature_vectors`` below, adapted to each SDK's
embedder interface), the same texts, users, queries and concurrency levels, and its own
default connection pool for a URL-configured store.

    python benchmarks/peers_worker.py job.json
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import sys
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

_WORD = re.compile(r"\w+")


def feature_vectors(texts: Sequence[str], dim: int) -> list[list[float]]:
    """Signed feature hashing of words (crc32), L2-normalised: cheap and deterministic.

    The same function embeds for every SDK, so the comparison measures the layers, not the
    model (its cost is a few microseconds per text at dimension 64).
    """
    vectors = []
    for text in texts:
        vector = [0.0] * dim
        for word in _WORD.findall(text.lower()):
            code = zlib.crc32(word.encode())
            vector[code % dim] += 1.0 if code & 0x80000000 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        vectors.append([v / norm for v in vector])
    return vectors


class Sdk:
    """The two verbs the harness drives, over one SDK's own async API."""

    async def open(self) -> None:
        """Connect (and create the schema) before anything is timed."""

    async def add(self, text: str, user: str) -> None:
        """Store one memory for ``user``."""
        raise NotImplementedError

    async def search(self, query: str, user: str, limit: int) -> list[str]:
        """The contents of the ``limit`` best memories of ``user`` for ``query``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release the pool."""


class OpenmemSdk(Sdk):
    """openmem ``AsyncMemory`` on the postgres provider (semantic search, like the peers)."""

    def __init__(self, url: str, dim: int, options: dict[str, Any]) -> None:
        from openmem_postgres import PostgresProvider
        from openmem_postgres.options import PostgresOptions

        from openmem import AsyncMemory
        from openmem.embedders import Embedder

        class PeerEmbedder(Embedder):
            def __init__(self) -> None:
                self.dim, self.model = dim, f"peers-feature-hash-{dim}"

            async def embed(self, texts: Sequence[str]) -> list[list[float]]:
                return feature_vectors(texts, dim)

        class PeerOptions(PostgresOptions):
            def build_embedder(self) -> Embedder:
                return PeerEmbedder()

        provider = PostgresProvider(PeerOptions(url=url, **options))
        self._mem = AsyncMemory(provider=provider, namespace="peers")

    async def open(self) -> None:
        await self._mem.initialize()

    async def add(self, text: str, user: str) -> None:
        await self._mem.add(text, user_id=user)

    async def search(self, query: str, user: str, limit: int) -> list[str]:
        hits = await self._mem.search(query, user, mode="semantic", limit=limit)
        return [hit.memory.content for hit in hits]

    async def close(self) -> None:
        await self._mem.close()


class ReferenceSdk(Sdk):
    """The reference OMP SDK 0.5.0 ``AsyncMemory`` on its asyncpg postgres adapter."""

    def __init__(self, url: str, dim: int) -> None:
        from openmem import AsyncMemory

        class PeerEmbedder:
            def __init__(self) -> None:
                self.dim, self.model = dim, f"peers-feature-hash-{dim}"

            def embed(self, texts: list[str]) -> list[list[float]]:
                return feature_vectors(texts, dim)

        self._mem = AsyncMemory(provider="postgres", url=url, embedder=PeerEmbedder())

    async def open(self) -> None:
        # The reference creates its pool and schema on first use; a search does that.
        await self._mem.search("warm up", "nobody", limit=1)

    async def add(self, text: str, user: str) -> None:
        await self._mem.add(content=text, user_id=user)

    async def search(self, query: str, user: str, limit: int) -> list[str]:
        return [r.memory.content for r in await self._mem.search(query, user, limit=limit)]

    async def close(self) -> None:
        await self._mem.close()


class Mem0Sdk(Sdk):
    """mem0 ``AsyncMemory`` with ``infer=False`` on its pgvector store."""

    def __init__(self, url: str, dim: int, data_dir: str) -> None:
        from mem0 import AsyncMemory
        from mem0.embeddings.base import EmbeddingBase

        class PeerEmbedding(EmbeddingBase):
            def embed(self, text: Any, memory_action: Any = None) -> list[float]:
                return feature_vectors([str(text)], dim)[0]

        config = {
            "vector_store": {
                "provider": "pgvector",
                "config": {
                    "connection_string": url,
                    "collection_name": "peers",
                    "embedding_model_dims": dim,
                },
            },
            "embedder": {"provider": "openai", "config": {"api_key": "sk-unused"}},
            "llm": {"provider": "openai", "config": {"api_key": "sk-unused"}},
            "history_db_path": str(Path(data_dir) / "history.db"),
        }
        self._mem = AsyncMemory.from_config(config)
        self._mem.embedding_model = PeerEmbedding()

    async def open(self) -> None:
        # mem0 creates its collection on first use; concurrent first adds race on
        # CREATE EXTENSION, so one add (of a user never searched) comes first, untimed.
        await self.add("warm up", "warm-up")

    async def add(self, text: str, user: str) -> None:
        await self._mem.add(text, user_id=user, infer=False)

    async def search(self, query: str, user: str, limit: int) -> list[str]:
        found = await self._mem.search(query, top_k=limit, filters={"user_id": user}, threshold=0.0)
        return [r["memory"] for r in found["results"]]

    async def close(self) -> None:
        self._mem.close()


class Ticker:
    """A 1 ms sleeper on the loop: how late it wakes is the loop lag the SDK causes."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            self.lags.append(max(0.0, time.perf_counter() - start - 0.001) * 1000)

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0-100); 0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


async def run_at(
    concurrency: int, ops: list[Callable[[], Awaitable[Any]]]
) -> tuple[float, int, list[float], float]:
    """``ops`` with ``concurrency`` in flight: (ops/s, errors, loop lags in ms, CPU ms per op).

    The CPU is this process's (``time.process_time``), so it is the SDK's own cost per call
    whatever else the machine runs.
    """
    queue = list(reversed(ops))
    errors: list[str] = []

    async def worker() -> None:
        while queue:
            op = queue.pop()
            try:
                await op()
            except Exception as exc:
                errors.append(repr(exc))

    with Ticker() as ticker:
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if errors:
        print(f"{len(errors)} errors, first: {errors[0]}", file=sys.stderr)
    return len(ops) / elapsed, len(errors), ticker.lags, cpu * 1000 / max(1, len(ops))


async def throughput(sdk: Sdk, job: dict[str, Any]) -> dict[str, Any]:
    """Adds, then searches, at each concurrency level, on fresh users per level."""
    texts: list[str] = job["texts"]
    queries: list[str] = job["queries"]
    users = job["users"]
    out: dict[str, Any] = {}
    for concurrency in job["concurrency"]:
        prefix = f"c{concurrency}-u"

        def add(i: int, prefix: str = prefix) -> Callable[[], Awaitable[Any]]:
            return lambda: sdk.add(texts[i], f"{prefix}{i % users}")

        def search(i: int, prefix: str = prefix) -> Callable[[], Awaitable[Any]]:
            return lambda: sdk.search(queries[i % len(queries)], f"{prefix}{i % users}", 10)

        # Untimed, on users of their own: every SDK's connections opened, statements
        # prepared and caches warm before the measured run, as in a long-running application.
        warm, warm_ops = f"warm-{prefix}", range(len(texts) // 10)
        warm_errors = (await run_at(concurrency, [add(i, warm) for i in warm_ops]))[1]
        warm_errors += (await run_at(concurrency, [search(i, warm) for i in warm_ops]))[1]
        add_ops, add_errors, add_lags, add_cpu = await run_at(
            concurrency, [add(i) for i in range(len(texts))]
        )
        search_ops, search_errors, search_lags, search_cpu = await run_at(
            concurrency, [search(i) for i in range(len(texts))]
        )
        out[str(concurrency)] = {
            "add_ops_s": round(add_ops, 1),
            "search_ops_s": round(search_ops, 1),
            "errors": warm_errors + add_errors + search_errors,
            "add_lag_p50_ms": round(percentile(add_lags, 50), 2),
            "add_lag_p99_ms": round(percentile(add_lags, 99), 2),
            "search_lag_p50_ms": round(percentile(search_lags, 50), 2),
            "search_lag_p99_ms": round(percentile(search_lags, 99), 2),
            "add_cpu_ms": round(add_cpu, 3),
            "search_cpu_ms": round(search_cpu, 3),
        }
    return out


async def one_user_scale(sdk: Sdk, job: dict[str, Any]) -> dict[str, Any]:
    """Search latency and recall@10 for one user holding ``len(scale_texts)`` memories."""
    texts: list[str] = job["scale_texts"]
    dim = job["dim"]
    user = "scale-one"
    ops = [lambda t=t: sdk.add(t, user) for t in texts]
    _, errors, _, _ = await run_at(32, ops)
    stored = feature_vectors(texts, dim)
    latencies, recalls = [], []
    for query in job["scale_queries"]:
        start = time.perf_counter()
        found = await sdk.search(query, user, 10)
        latencies.append((time.perf_counter() - start) * 1000)
        (q,) = feature_vectors([query], dim)
        scored = sorted(
            range(len(texts)), key=lambda i: -sum(a * b for a, b in zip(q, stored[i], strict=True))
        )
        # Ties at the 10th place make any of the tied texts a correct answer.
        cutoff = sum(a * b for a, b in zip(q, stored[scored[9]], strict=True))
        exact = {
            texts[i]
            for i in scored
            if sum(a * b for a, b in zip(q, stored[i], strict=True)) >= cutoff - 1e-9
        }
        recalls.append(len(set(found) & exact) / 10)
    return {
        "memories": len(texts),
        "load_errors": errors,
        "search_p50_ms": round(percentile(latencies, 50), 2),
        "search_p95_ms": round(percentile(latencies, 95), 2),
        "recall_at_10": round(sum(recalls) / len(recalls), 3),
    }


async def cancel_at_random_points(sdk: Sdk, job: dict[str, Any]) -> dict[str, Any]:
    """Adds and searches cancelled at a uniformly random moment 0-4 ms after they start.

    The latency is from ``task.cancel()`` to the caller seeing ``CancelledError``; calls that
    finished before their moment are counted apart.
    """
    rng = random.Random(job.get("seed", 0))
    texts: list[str] = job["texts"]
    queries: list[str] = job["queries"]
    for u in range(job["users"]):
        for text in texts[u * 20 : u * 20 + 20]:
            await sdk.add(text, f"cancel-u{u}")
    latencies: dict[str, list[float]] = {"add": [], "search": []}
    finished = 0
    for n in range(job["cancels"]):
        user = f"cancel-u{n % job['users']}"
        if n % 2:
            task = asyncio.ensure_future(sdk.add(f"{texts[n % len(texts)]} cancelled {n}", user))
        else:
            task = asyncio.ensure_future(sdk.search(queries[n % len(queries)], user, 10))
        await asyncio.sleep(rng.uniform(0, 0.004))
        if task.done():
            finished += 1
            task.result()
            continue
        start = time.perf_counter()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            latencies["add" if n % 2 else "search"].append((time.perf_counter() - start) * 1000)
        else:
            finished += 1
        await asyncio.sleep(0.002)  # let the cancelled call's cleanup run before the next
    every = latencies["add"] + latencies["search"]
    return {
        "cancelled": len(every),
        "finished_first": finished,
        "cancel_p50_ms": round(percentile(every, 50), 3),
        "cancel_p99_ms": round(percentile(every, 99), 3),
        "cancel_max_ms": round(max(every, default=0.0), 3),
        "add_cancel_p99_ms": round(percentile(latencies["add"], 99), 3),
        "search_cancel_p99_ms": round(percentile(latencies["search"], 99), 3),
    }


def build(job: dict[str, Any]) -> Sdk:
    """The SDK of ``job["sdk"]``."""
    if job["sdk"] == "openmem":
        return OpenmemSdk(job["url"], job["dim"], job.get("openmem_options", {}))
    if job["sdk"] == "reference":
        return ReferenceSdk(job["url"], job["dim"])
    return Mem0Sdk(job["url"], job["dim"], job["data_dir"])


async def run_job(sdk: Sdk, job: dict[str, Any]) -> dict[str, Any]:
    """A cancellation job, or throughput (and the one-user scale when given its texts)."""
    result: dict[str, Any] = {"sdk": job["sdk"], "dim": job["dim"]}
    if job.get("cancels"):
        result["cancel"] = await cancel_at_random_points(sdk, job)
        return result
    result["throughput"] = await throughput(sdk, job)
    if job.get("scale_texts"):
        result["one_user"] = await one_user_scale(sdk, job)
    return result


async def main(job: dict[str, Any]) -> None:
    sdk = build(job)
    await sdk.open()
    try:
        result = await run_job(sdk, job)
    finally:
        await sdk.close()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
