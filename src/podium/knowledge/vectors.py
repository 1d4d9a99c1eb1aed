"""Vectors of chunks: stored as float32 bytes, compared by cosine similarity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from podium.storage.knowledge import ChunkHit


def pack(vector: Sequence[float]) -> bytes:
    """A vector as stored: little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


def unpack(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")


def nearest(
    query: Sequence[float], candidates: Sequence[tuple[ChunkHit, bytes]], limit: int
) -> list[ChunkHit]:
    """The `limit` candidates most similar to `query` (cosine), best first, each with its
    similarity as its score. Candidates of another dimension than the query's (embedded by
    an earlier model) are left out."""
    target = np.asarray(query, dtype="<f4")
    norm = float(np.linalg.norm(target))
    usable = [(hit, data) for hit, data in candidates if len(data) == target.nbytes]
    if not usable or norm == 0.0:
        return []
    matrix = np.frombuffer(b"".join(data for _hit, data in usable), dtype="<f4").reshape(
        len(usable), target.size
    )
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0.0] = 1.0
    similarity = (matrix @ target) / (norms * norm)
    order = np.argsort(-similarity, kind="stable")[:limit]
    hits = []
    for index in order:
        hit = usable[int(index)][0]
        hit.score = float(similarity[index])
        hits.append(hit)
    return hits
