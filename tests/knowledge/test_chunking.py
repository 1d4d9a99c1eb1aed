"""Chunking: bounded chunks that end at paragraph and sentence breaks, overlap, cover the
whole text; words and stems."""

from __future__ import annotations

import itertools

import pytest

from podium.knowledge.chunking import chunk_text, stem, words


def test_a_short_text_is_one_chunk_and_a_blank_one_none() -> None:
    assert chunk_text("  Hello there.  ", 100, 10) == ["Hello there."]
    assert chunk_text(" \n ", 100, 10) == []


def test_chunks_are_bounded_overlap_and_cover_every_word() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(200))
    chunks = chunk_text(text, 300, 80)
    assert len(chunks) > 10
    assert all(len(chunk) <= 300 for chunk in chunks)
    # Each chunk ends at a sentence's end, and the next repeats the end of it.
    assert all(chunk.endswith(".") for chunk in chunks)
    for before, after in itertools.pairwise(chunks):
        assert after[:40] in before[-100:]
    seen = set()
    for chunk in chunks:
        seen.update(chunk.split())
    assert seen == set(text.split())


def test_paragraph_breaks_win_over_sentence_ends() -> None:
    first = "A first paragraph. " * 9
    text = first.strip() + "\n\n" + "The second one goes on. " * 20
    chunks = chunk_text(text, 250, 0)
    assert chunks[0] == first.strip()


def test_a_chunk_does_not_start_inside_a_word() -> None:
    text = "abcdefgh " * 200
    for chunk in chunk_text(text, 200, 45):
        assert chunk.startswith("abcdefgh")


def test_one_long_word_is_cut() -> None:
    chunks = chunk_text("x" * 1000, 300, 0)
    assert [len(chunk) for chunk in chunks] == [300, 300, 300, 100]


def test_overlap_must_be_under_half() -> None:
    with pytest.raises(ValueError, match="less than half"):
        chunk_text("text", 100, 50)


def test_words_and_stems() -> None:
    assert words("Hello, WORLD! snake_case café-42") == [
        "hello",
        "world",
        "snake",
        "case",
        "café",
        "42",
    ]
    assert stem("refunds") == stem("refund")
    assert stem("shipped") == stem("shipping")
    assert stem("classes") == stem("class")
    assert stem("policies") == stem("policy")
