"""`podium knowledge ingest DIR` and `podium knowledge search NS QUERY` (docs/knowledge-cli.md).

Ingest reads every `.md`, `.markdown` and `.txt` file under a directory (hidden files and
directories skipped), checks all of them before writing anything (readable, UTF-8, within
the document cap, no two files with one key), then upserts them in batches through the
knowledge service. A document's key is its path relative to the directory without the
suffix (`guides/install.md` → `guides/install`); its metadata is `{"path", "title"}`,
the title being the file's first Markdown heading (left out when it has none).

On a terminal the ingest shows a rich progress bar; otherwise (a pipe, a file, a test) a
plain line every tenth of the way, so a script can follow it.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from podium.errors import InvalidInput, NotFound
from podium.knowledge.service import check_key, check_namespace
from podium.storage.script import Script, dumps, one

__all__ = ["check_namespace"]  # the CLI checks the namespace before reading any file

SUFFIXES = (".md", ".markdown", ".txt")
# Documents per put_documents call: one transaction each, and one progress step.
BATCH_DOCUMENTS = 100
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
FENCE = re.compile(r"^ {0,3}(```|~~~)")
SNIPPET_CHARS = 240
KEY_SAFE = re.compile(r"[A-Za-z0-9_.:@/-]")


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # as the user wrote the directory, joined with the relative path
    relative: str  # POSIX, with its suffix: the metadata's `path`
    key: str
    size: int


@dataclass(frozen=True, slots=True)
class IngestSummary:
    documents: int
    chunks: int
    skipped_empty: list[str]


class IngestProgress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, done: int) -> None: ...
    def stop(self) -> None: ...


# --- reading the directory -------------------------------------------------------------------


def first_heading(text: str) -> str | None:
    """The text of the first ATX heading (`# Title`) outside fenced code, if any."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced and (match := HEADING.match(line)):
            return match.group(2).strip()
    return None


def find_files(directory: Path) -> list[SourceFile]:
    """Every text file under `directory`, sorted by relative path; refused when none."""
    if not directory.exists():
        raise NotFound(f"{directory} does not exist; give a directory of .md or .txt files")
    if not directory.is_dir():
        raise InvalidInput(
            f"{directory} is a file, not a directory; give the directory that holds it"
        )
    found: list[SourceFile] = []
    keys: dict[str, str] = {}
    for root, dirs, files in os.walk(directory, onerror=_walk_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(SUFFIXES):
                continue
            path = Path(root, name)
            relative = path.relative_to(directory).as_posix()
            key = document_key(relative[: relative.rindex(".")], path)
            if key in keys:
                raise InvalidInput(
                    f"{directory / keys[key]} and {path} would both be document {key!r}; "
                    "rename one of them"
                )
            keys[key] = relative
            try:
                size = path.stat().st_size
            except OSError as exc:
                raise InvalidInput(f"{path}: cannot read it ({exc.strerror})") from None
            found.append(SourceFile(path, relative, key, size))
    if not found:
        raise InvalidInput(
            f"{directory} has no .md or .txt files (hidden files and directories are skipped)"
        )
    return found


def document_key(name: str, path: Path) -> str:
    """A file's relative path (without suffix) as a document key: accents dropped
    (`café` → `cafe`), every run of other characters than letters, digits and _ . : @ - /
    replaced by one `-` (`Meeting notes` → `Meeting-notes`)."""
    marked = []
    for char in name:
        if not KEY_SAFE.match(char):
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            char = plain if plain and all(KEY_SAFE.match(c) for c in plain) else "\0"
        marked.append(char)
    key = re.sub("\0+", "-", "".join(marked))
    try:
        check_key(key)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: its path makes no document key: {exc.message}") from None
    return key


def _walk_error(exc: OSError) -> None:
    raise InvalidInput(f"{exc.filename}: cannot read it ({exc.strerror})")


def read_document(source: SourceFile) -> dict[str, Any]:
    """The document of one file: {"key", "text", "metadata"}; refused when not UTF-8 text."""
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        raise InvalidInput(
            f"{source.path}: cannot read it ({exc.strerror}); fix its permissions or move it "
            "out of the directory"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{source.path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); convert it (e.g. iconv -t UTF-8) or move it out of the directory"
        ) from None
    text = text.removeprefix("\ufeff")  # a byte-order mark is not part of the text
    metadata: dict[str, Any] = {"path": source.relative}
    title = first_heading(text)
    if title is not None:
        metadata["title"] = title
    return {"key": source.key, "text": text, "metadata": metadata}


def document_bytes(document: dict[str, Any]) -> int:
    """What a document weighs against the document cap: its text and its metadata as JSON."""
    return len(document["text"].encode()) + len(dumps(document["metadata"]).encode())


def check_files(files: Sequence[SourceFile], max_document_bytes: int) -> list[str]:
    """Read every file once before anything is written; the relative paths of empty ones.

    Raises InvalidInput naming the first file that is unreadable, not UTF-8 or too big."""
    empty = []
    for source in files:
        if source.size > max_document_bytes:  # before reading a huge file
            raise _too_big(f"{source.path} is {source.size:,} bytes", max_document_bytes)
        document = read_document(source)
        if not document["text"].strip():
            empty.append(source.relative)
            continue
        size = document_bytes(document)
        if size > max_document_bytes:
            raise _too_big(f"{source.path} is {size:,} bytes with its metadata", max_document_bytes)
    return empty


def _too_big(what: str, cap: int) -> InvalidInput:
    return InvalidInput(
        f"{what}; a document (its text and metadata) may be at most {cap:,} bytes "
        "(PODIUM_KNOWLEDGE_MAX_DOCUMENT_BYTES): split the file or raise the cap"
    )


def batches(
    files: Sequence[SourceFile], max_documents: int, max_bytes: int
) -> Iterator[list[SourceFile]]:
    """Consecutive groups of at most `max_documents` files and about `max_bytes` of text."""
    batch: list[SourceFile] = []
    weight = 0
    for source in files:
        if batch and (len(batch) >= max_documents or weight + source.size > max_bytes):
            yield batch
            batch, weight = [], 0
        batch.append(source)
        weight += source.size
    if batch:
        yield batch


# --- ingesting -----------------------------------------------------------------------------


async def ingest(
    knowledge: Any,
    app_id: str,
    namespace: str,
    files: Sequence[SourceFile],
    progress: IngestProgress,
    *,
    max_batch_documents: int,
    max_batch_bytes: int,
    skip: Sequence[str] = (),
) -> IngestSummary:
    """Upsert `files` (checked by `check_files`) in batches; `skip` are the empty ones."""
    skipped = set(skip)
    todo = [source for source in files if source.relative not in skipped]
    documents = chunks = 0
    progress.start(len(todo))
    try:
        # No transaction bigger than one HTTP batch may be (PODIUM_KNOWLEDGE_MAX_BATCH_BYTES),
        # with room for JSON escaping and metadata.
        for batch in batches(
            todo, min(BATCH_DOCUMENTS, max_batch_documents), max_batch_bytes * 3 // 4
        ):
            answer = await knowledge.put_documents(
                app_id, namespace, [read_document(source) for source in batch], actor="cli"
            )
            documents += len(answer["documents"])
            chunks += sum(entry["chunks"] for entry in answer["documents"])
            progress.advance(documents)
    finally:
        progress.stop()
    return IngestSummary(documents, chunks, sorted(skipped))


class BarProgress:
    """A rich progress bar (on a terminal)."""

    def __init__(self, console: Console, label: str) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("documents"),
            TimeElapsedColumn(),
            console=console,
        )
        self.label = label
        self.task: Any = None

    def start(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=total)

    def advance(self, done: int) -> None:
        self.progress.update(self.task, completed=done)

    def stop(self) -> None:
        self.progress.stop()


class LineProgress:
    """A plain line each tenth of the way and at the end (a pipe, a file, a test)."""

    def __init__(self, console: Console, label: str) -> None:
        self.console = console
        self.label = label
        self.total = 0
        self.shown = 0  # tenths

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, done: int) -> None:
        tenths = done * 10 // max(self.total, 1)
        if tenths > self.shown or done == self.total:
            self.shown = tenths
            percent = done * 100 // max(self.total, 1)
            self.console.print(
                f"{self.label}: {done:,}/{self.total:,} documents ({percent} %)", markup=False
            )

    def stop(self) -> None:
        pass


def progress_for(console: Console, label: str) -> IngestProgress:
    return BarProgress(console, label) if console.is_terminal else LineProgress(console, label)


# --- apps and search results -----------------------------------------------------------------


def _find_app(identifier: str) -> Script:
    row = yield one("SELECT id FROM apps WHERE id = ? OR name = ?", identifier, identifier)
    return None if row is None else row["id"]


async def resolve_app(podium: Any, app: str | None) -> str:
    """The id of the app named or identified by `app`; the default app when None."""
    if app is None:
        return str(await podium.default_app())
    app_id: str | None = await podium.store.run_read(lambda: _find_app(app))
    if app_id is None:
        raise NotFound(
            f"no app has the id or name {app!r}; leave out --app for the default app, or "
            "create the app first (POST /api/v1/apps)"
        )
    return app_id


def hit_lines(result: dict[str, Any]) -> list[str]:
    """A search answer as plain lines: a header, then each hit ranked, with a snippet (the
    answer's note, e.g. that the search was full text only, is the caller's to show)."""
    hits = result["hits"]
    lines = [f"{len(hits)} hit{'' if len(hits) == 1 else 's'} ({result['mode']} search)"]
    for rank, hit in enumerate(hits, 1):
        title = hit.get("metadata", {}).get("title")
        matched = ", ".join(hit.get("matched") or []) or "-"
        lines.append(
            f"{rank}. {hit['namespace']}/{hit['key']} chunk {hit['chunk']}  "
            f"score {hit['score']:.3f}  matched: {matched}" + (f"  title: {title}" if title else "")
        )
        lines.append(f"   {snippet(hit['text'])}")
    return lines


def snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "…"
