"""What a search is made of: the query's words, the metadata filter, the words a hit holds,
and reciprocal rank fusion of rankings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from podium import jsonvalue
from podium.errors import KnowledgeInvalid
from podium.knowledge import chunking
from podium.storage.knowledge import ChunkHit

FILTER_KEY_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_FILTER_KEYS = 16
MAX_QUERY_TERMS = 32
MAX_TERM_CHARS = 64
# Reciprocal rank fusion's constant (Cormack et al.): a rank r counts 1 / (RRF_K + r).
RRF_K = 60


def query_terms(query: str) -> list[str]:
    """The distinct words of a query, case-folded, in order (at most `MAX_QUERY_TERMS`)."""
    terms: list[str] = []
    for word in chunking.words(query):
        word = word[:MAX_TERM_CHARS]
        if word not in terms:
            terms.append(word)
            if len(terms) == MAX_QUERY_TERMS:
                break
    return terms


def matched_terms(terms: Sequence[str], text: str) -> list[str]:
    """The terms that `text` holds (compared by a light stem, as the index stems words)."""
    stems = {chunking.stem(word) for word in chunking.words(text)}
    return [term for term in terms if chunking.stem(term) in stems]


def check_filter(filter: dict[str, Any] | None) -> dict[str, Any]:
    """The metadata filter, checked: top-level keys to equal values (string, number,
    boolean or null)."""
    if filter is None:
        return {}
    if not isinstance(filter, dict):
        raise KnowledgeInvalid(
            'the filter is a JSON object of metadata keys and values, e.g. {"tier": "hot"}'
        )
    if len(filter) > MAX_FILTER_KEYS:
        raise KnowledgeInvalid(f"the filter has {len(filter)} keys; at most {MAX_FILTER_KEYS}")
    jsonvalue.check_value(filter, "the filter")
    for key, value in filter.items():
        if not re.fullmatch(FILTER_KEY_PATTERN, key):
            raise KnowledgeInvalid(
                f"filter key {key!r} is not valid: 1 to 64 letters, digits, _ and -, naming a "
                "top-level key of the documents' metadata"
            )
        if isinstance(value, dict | list):
            raise KnowledgeInvalid(
                f"filter value for {key!r} is a {type(value).__name__}: a filter compares "
                "top-level metadata keys for equality with a string, number, boolean or null"
            )
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
            raise KnowledgeInvalid(
                f"filter value for {key!r} is too large a whole number: at most 2**63 - 1"
            )
    return filter


def fuse(rankings: Sequence[Sequence[ChunkHit]], k: int) -> list[ChunkHit]:
    """Reciprocal rank fusion: each chunk scores the sum of 1 / (60 + rank) over the
    rankings it is in (rank from 1); the `k` best, with those scores."""
    scores: dict[int, float] = {}
    hits: dict[int, ChunkHit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (RRF_K + rank)
            hits.setdefault(hit.id, hit)
    best = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], chunk_id))[:k]
    fused = []
    for chunk_id in best:
        hit = hits[chunk_id]
        hit.score = scores[chunk_id]
        fused.append(hit)
    return fused
