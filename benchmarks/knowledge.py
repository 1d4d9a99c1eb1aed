"""Podium's knowledge store next to tantivy: ingest, query latency and recall@3 (`make bench`).

    python benchmarks/knowledge.py                      # 10,000 documents, 1,000 queries
    python benchmarks/knowledge.py --pg postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/knowledge.py --quick              # 300 documents, 50 queries: a smoke test
    scripts/with-postgres sh -c 'python benchmarks/knowledge.py --pg "$PODIUM_TEST_DATABASE_URL"'

The documents and queries are generated (`benchmarks/knowledge_corpus.py`): prose of
100–300 words over a few hundred topics, each query made from one document, its answer.
Podium ingests them through `KnowledgeService.put_documents` in batches of `--batch`
(one transaction each), on a fresh SQLite file and, with `--pg URL`, on a fresh PostgreSQL
database created on that server (and dropped afterwards; the URL's role needs CREATEDB).
On PostgreSQL the knowledge tables are ANALYZEd after the ingest (autovacuum's job
within a minute; not timed). Then each query is one `search(..., k=3)` call, timed on its
own. Full text only: no embeddings model, whatever the environment says. tantivy
(`benchmarks/knowledge_peer.py`) gets the same documents, batches and queries in the same
run.

Prints one JSON object per workload, metric and backend on stdout::

    {"workload", "metric", "backend", "podium", "peer", "peer_name", "ratio", "target", "met", ...}

K1 is the ingest (`docs_per_s`), K2 the queries (`p50_ms`, `p95_ms`, `recall_at_3`).
``ratio`` is podium / peer. ``met`` is given for the target (p95 < 20 ms on SQLite at
10,000 documents) and null with ``--quick`` or a smaller corpus. Without tantivy (the
``bench`` extra) the peer fields are null. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "src") not in sys.path:  # a checkout without `pip install -e .`
    sys.path.append(str(ROOT / "src"))

from benchmarks import knowledge_corpus as corpus  # noqa: E402
from benchmarks import knowledge_peer as peer  # noqa: E402
from benchmarks.pg import FreshPostgres  # noqa: E402

from podium.config import Settings  # noqa: E402

NAMESPACE = "bench"
TARGET_P95_MS = 20.0
TARGET_DOCUMENTS = 10_000
WARMUP_QUERIES = 20


@dataclass(frozen=True)
class Sizes:
    documents: int = 10_000
    queries: int = 1_000
    topics: int = 300


FULL = Sizes()
QUICK = Sizes(documents=300, queries=50, topics=30)


@dataclass
class Figures:
    ingest_seconds: float
    latencies_ms: list[float]
    found: int
    bytes: int
    chunks: int | None = None
    mode: str | None = None

    def docs_per_s(self, documents: int) -> float:
        return documents / self.ingest_seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_average() -> str:
    if not hasattr(os, "getloadavg"):
        return "?"
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --------------------------------------------------------------------------- Podium


async def podium_figures(
    url: str,
    settings: Settings,
    documents: list[corpus.Document],
    queries: list[corpus.Query],
    batch: int,
    k: int,
) -> Figures:
    from podium import Podium

    async with Podium.open(url, workers=0, settings=settings) as podium:
        knowledge = podium.service("knowledge")
        app_id = await podium.default_app()
        started = time.perf_counter()
        for start in range(0, len(documents), batch):
            await knowledge.put_documents(
                app_id,
                NAMESPACE,
                [
                    {"key": d.key, "text": d.text, "metadata": {"title": d.title}}
                    for d in documents[start : start + batch]
                ],
            )
        ingest_seconds = time.perf_counter() - started
        if url.startswith("postgresql"):
            await analyze(url)
        namespaces = await knowledge.list_namespaces(app_id)
        chunks = next(n["chunks"] for n in namespaces if n["namespace"] == NAMESPACE)
        for query in queries[:WARMUP_QUERIES]:
            await knowledge.search(app_id, NAMESPACE, query.text, k=k)
        latencies, found, modes = [], 0, set()
        for query in queries:
            began = time.perf_counter()
            result = await knowledge.search(app_id, NAMESPACE, query.text, k=k)
            latencies.append((time.perf_counter() - began) * 1000)
            found += query.answer in {hit["key"] for hit in result["hits"]}
            modes.add(result["mode"])
    return Figures(ingest_seconds, latencies, found, 0, chunks, ",".join(sorted(modes)))


async def analyze(url: str) -> None:
    """Refresh PostgreSQL's statistics of the knowledge tables, as autovacuum does within a
    minute of a bulk insert: the queries are timed in that steady state, not against the
    empty tables' statistics the planner has right after the ingest (which make it scan
    the whole namespace instead of the GIN index: p50 ~20 ms instead of ~5 ms here)."""
    import asyncpg

    from podium.storage.urls import asyncpg_dsn

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("ANALYZE knowledge_documents, knowledge_chunks")
    finally:
        await connection.close()


def run_podium(
    url: str,
    settings: Settings,
    documents: list[corpus.Document],
    queries: list[corpus.Query],
    batch: int,
    k: int,
) -> Figures:
    return asyncio.run(podium_figures(url, settings, documents, queries, batch, k))


def sqlite_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


# --------------------------------------------------------------------------- report


def rows(
    backend: str,
    mine: Figures,
    theirs: Figures | None,
    sizes: Sizes,
    k: int,
    batch: int,
    peer_name: str | None,
) -> list[dict[str, Any]]:
    full_size = sizes.documents >= TARGET_DOCUMENTS

    def row(workload: str, metric: str, podium: float, other: float | None) -> dict[str, Any]:
        return {
            "workload": workload,
            "metric": metric,
            "backend": backend,
            "podium": round(podium, 3 if metric == "recall_at_3" else 2),
            "peer": None if other is None else round(other, 3 if metric == "recall_at_3" else 2),
            "peer_name": peer_name,
            "ratio": None if not other else round(podium / other, 3),
        }

    ingest = row(
        "K1",
        "docs_per_s",
        mine.docs_per_s(sizes.documents),
        theirs.docs_per_s(sizes.documents) if theirs else None,
    )
    ingest.update(
        documents=sizes.documents,
        batch=batch,
        podium_chunks=mine.chunks,
        podium_bytes=mine.bytes,
        peer_bytes=theirs.bytes if theirs else None,
    )
    out = [ingest]
    for metric, q in (("p50_ms", 0.5), ("p95_ms", 0.95)):
        line = row("K2", metric, mine.percentile(q), theirs.percentile(q) if theirs else None)
        line.update(queries=sizes.queries, k=k, mode=mine.mode)
        if metric == "p95_ms" and backend == "sqlite":
            line.update(
                target=f"< {TARGET_P95_MS:.0f} ms",
                met=(mine.percentile(q) < TARGET_P95_MS) if full_size else None,
            )
        out.append(line)
    recall = row(
        "K2",
        "recall_at_3",
        mine.found / sizes.queries,
        theirs.found / sizes.queries if theirs else None,
    )
    recall.update(queries=sizes.queries, k=k)
    out.append(recall)
    return out


def slowest(figures: Figures, queries: list[corpus.Query], count: int = 5) -> str:
    """The slowest queries, to see which words cost (stderr only)."""
    ranked = sorted(zip(figures.latencies_ms, queries, strict=True), key=lambda p: -p[0])
    return "; ".join(f"{ms:.1f} ms {query.text!r}" for ms, query in ranked[:count])


def describe(name: str, figures: Figures, sizes: Sizes) -> str:
    return (
        f"{name:16} {figures.docs_per_s(sizes.documents):8,.0f} docs/s, query p50 "
        f"{figures.percentile(0.5):.2f} ms p95 {figures.percentile(0.95):.2f} ms, recall@3 "
        f"{figures.found / sizes.queries:.3f}, {figures.bytes / 1e6:.1f} MB"
        + (f", {figures.chunks:,} chunks" if figures.chunks is not None else "")
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="300 documents, 50 queries")
    parser.add_argument("--documents", type=int, help="documents to ingest (10,000)")
    parser.add_argument("--queries", type=int, help="queries to run (1,000)")
    parser.add_argument("--batch", type=int, default=100, help="documents per put (100)")
    parser.add_argument("-k", type=int, default=3, help="hits per query (3: recall@3)")
    parser.add_argument("--pg", metavar="URL", help="also on PostgreSQL (a fresh database there)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--no-peer", action="store_true", help="Podium only (peer fields null)")
    parser.add_argument("--workdir", type=Path, help="keep the SQLite file and index here")
    args = parser.parse_args(argv)

    base = QUICK if args.quick else FULL
    sizes = Sizes(
        documents=args.documents or base.documents,
        queries=args.queries or base.queries,
        topics=base.topics,
    )
    if sizes.queries > sizes.documents:
        parser.error("--queries may not exceed --documents (each query has its own answer)")
    if args.no_sqlite and not args.pg:
        parser.error("--no-sqlite needs --pg URL")
    # Full text only: an embeddings model in the environment would time a remote server.
    settings = Settings().model_copy(update={"embedding_model": None})
    import sqlite3

    log(
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} "
        f"CPUs, load {load_average()}; {sizes.documents:,} documents, {sizes.queries:,} "
        f"queries, batches of {args.batch}, k={args.k}{', quick' if args.quick else ''}"
    )
    started = time.perf_counter()
    documents = corpus.generate(sizes.documents, sizes.topics)
    queries = corpus.queries(documents, sizes.queries)
    words = list(corpus.sizes(documents))
    log(
        f"corpus: {len(documents):,} documents ({statistics.mean(words):.0f} words on "
        f"average, {sum(len(d.text) for d in documents) / 1e6:.1f} MB), {len(queries):,} "
        f"queries, made in {time.perf_counter() - started:.1f}s"
    )
    results: list[tuple[str, Figures]] = []
    theirs: Figures | None = None
    peer_name: str | None = None
    with tempfile.TemporaryDirectory(prefix="podium_kbench_") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if not args.no_sqlite:
            db = workdir / "knowledge.db"
            for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                stale.unlink(missing_ok=True)
            figures = run_podium(
                f"sqlite:///{db}", settings, documents, queries, args.batch, args.k
            )
            figures.bytes = sqlite_bytes(db)
            log(describe("podium sqlite", figures, sizes))
            log(f"  slowest: {slowest(figures, queries)}")
            results.append(("sqlite", figures))
        if args.pg:
            with FreshPostgres(args.pg, prefix="podium_kbench") as pg:
                figures = run_podium(pg.url, settings, documents, queries, args.batch, args.k)
                figures.bytes = pg.size()
            log(describe("podium postgres", figures, sizes))
            log(f"  slowest: {slowest(figures, queries)}")
            results.append(("postgresql", figures))
        missing = "--no-peer" if args.no_peer else peer.available()
        if missing:
            log(f"no peer: {missing}")
        else:
            index = workdir / "tantivy"
            if index.exists():
                import shutil

                shutil.rmtree(index)
            raw = peer.run(index, documents, queries, args.batch, args.k)
            theirs = Figures(raw["ingest_seconds"], raw["latencies_ms"], raw["found"], raw["bytes"])
            peer_name = peer.version()
            log(describe(peer_name, theirs, sizes))
    log(f"done in {time.perf_counter() - started:.1f}s, load {load_average()}")
    for backend, figures in results:
        for line in rows(backend, figures, theirs, sizes, args.k, args.batch, peer_name):
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
