"""Cutting a document into overlapping chunks, and the words of a text.

A chunk is at most `chunk_chars` characters. It ends at the last paragraph break, else
sentence end, else space in the last third of its window, so that chunks hold whole
sentences where they can; the next chunk starts `overlap_chars` before the end of the one
before (moved forward to a word's start), so a passage cut in two is whole in one of them.
"""

from __future__ import annotations

import re

DEFAULT_CHUNK_CHARS = 1000
DEFAULT_OVERLAP_CHARS = 150
MIN_CHUNK_CHARS = 100
MAX_CHUNK_CHARS = 20_000

# Where a chunk prefers to end, best first: a paragraph break, a sentence's end, a space.
_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"[.!?;:][\"')\]]*\s"), re.compile(r"\s"))
# A word: letters and digits (any script); `_` and punctuation separate words.
_WORD = re.compile(r"[^\W_]+")


def chunk_text(text: str, chunk_chars: int, overlap_chars: int) -> list[str]:
    """The chunks of `text` (one when it is short enough; none when it is blank).

    Args:
        text: the document's text.
        chunk_chars: the most characters a chunk holds.
        overlap_chars: how many characters a chunk repeats of the one before (less than
            half of `chunk_chars`).
    """
    if not 0 <= overlap_chars * 2 < chunk_chars:
        raise ValueError("overlap_chars must be less than half of chunk_chars")
    text = text.strip()
    if not text:
        return []
    if len(text) <= chunk_chars:
        return [text]
    chunks: list[str] = []
    start, length = 0, len(text)
    while start < length:
        end = min(start + chunk_chars, length)
        if end < length:
            end = _break_before(text, start, end, chunk_chars)
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= length:
            break
        start = _word_start(text, max(end - overlap_chars, start + 1), end)
    return chunks


def _break_before(text: str, start: int, end: int, chunk_chars: int) -> int:
    """The end of the chunk that starts at `start`: the best break in its last third."""
    floor = start + (chunk_chars * 2) // 3
    window = text[floor:end]
    for pattern in _BREAKS:
        ends = [match.end() for match in pattern.finditer(window)]
        if ends:
            return floor + ends[-1]
    return end  # one long word: cut it


def _word_start(text: str, position: int, end: int) -> int:
    """`position`, or the start of the next word when it falls inside one (before `end`)."""
    if position == 0 or not (text[position - 1].isalnum() and text[position].isalnum()):
        return position
    match = re.compile(r"\W").search(text, position, end)
    return match.end() if match is not None else position


def words(text: str) -> list[str]:
    """The words of `text`, case-folded (letters and digits; anything else separates)."""
    return [word.casefold() for word in _WORD.findall(text)]


def stem(word: str) -> str:
    """A light English stem of a case-folded word (to compare query terms with a chunk's
    words the way the full-text index does, which stems with Porter's algorithm)."""
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: len(word) - len(suffix)] + replacement
    return word


_SUFFIXES = (
    ("ational", "ate"),
    ("ization", "ize"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("iveness", "ive"),
    ("ations", "ate"),
    ("ation", "ate"),
    ("ments", ""),
    ("ment", ""),
    ("ness", ""),
    ("ingly", ""),
    ("edly", ""),
    ("ings", ""),
    ("ing", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("sses", "ss"),
    ("ers", ""),
    ("er", ""),
    ("ed", ""),
    ("ly", ""),
    ("es", ""),
    ("ss", "ss"),
    ("s", ""),
    ("e", ""),
)
