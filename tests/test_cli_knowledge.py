"""`podium knowledge ingest DIR` and `podium knowledge search`, as a user types them: a
directory of Markdown and text files becomes documents (key, path, title), re-ingesting
updates them, progress shows while it runs, and every bad directory gets one line naming
the file and changes nothing."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from podium import Podium
from podium.cli import main
from podium.cli_knowledge import SourceFile, batches
from podium.storage.urls import sqlite_url

ROOT = Path(__file__).resolve().parents[1]

GUIDES = {
    "install.md": "# Installing Podium\n\nRun pip install podium, then podium serve.\n",
    "guides/flows.md": (
        "---\nfront: matter\n---\n\n```sh\n# not a heading, a shell comment\n```\n\n"
        "## Durable flows ##\n\nEvery step of a flow is committed before the next one.\n"
    ),
    "guides/agents.markdown": "# Agents\n\nAn agent calls tools and a model provider.\n",
    "notes/weather.txt": "The weather agent forecasts rain and sunshine for a city.\n",
    # Not ingested: other suffixes, hidden files and directories.
    "notes/image.png": "not text",
    ".hidden.md": "# Hidden\n\nforecasts\n",
    ".git/HEAD.md": "# Git\n\nforecasts\n",
}


def podium(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(main, [str(arg) for arg in args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def with_runtime(db: Path | str, use: Any) -> Any:
    url = db if isinstance(db, str) else sqlite_url(db)

    async def session() -> Any:
        async with Podium.open(url, workers=0) as runtime:
            return await use(runtime)

    return asyncio.run(session())


def documents_of(db: Path | str, namespace: str, app: str | None = None) -> dict[str, Any]:
    async def read(runtime: Podium) -> dict[str, Any]:
        knowledge = runtime.service("knowledge")
        app_id = await runtime.store.ensure_app(app) if app else await runtime.default_app()
        listed = await knowledge.list_documents(app_id, namespace)
        return {d["key"]: await knowledge.get_document(app_id, namespace, d["key"]) for d in listed}

    return with_runtime(db, read)  # type: ignore[no-any-return]


# --- ingest --------------------------------------------------------------------------------


def test_ingest_a_directory_then_search_it(tmp_path: Path) -> None:
    docs = write_tree(tmp_path / "docs", dict(GUIDES))
    db = tmp_path / "p.db"

    ingested = podium("knowledge", "ingest", docs, "--namespace", "guides", "--db", db)

    assert ingested.exit_code == 0, ingested.output
    assert ingested.stdout == (
        f"ingested 4 documents (4 chunks) from {docs} into namespace 'guides'\n"
    )
    assert ingested.stderr == "ingest guides: 4/4 documents (100 %)\n"
    stored = documents_of(db, "guides")
    assert sorted(stored) == ["guides/agents", "guides/flows", "install", "notes/weather"]
    assert stored["install"]["metadata"] == {"path": "install.md", "title": "Installing Podium"}
    assert stored["guides/flows"]["metadata"] == {
        "path": "guides/flows.md",
        "title": "Durable flows",
    }
    assert stored["guides/agents"]["metadata"]["title"] == "Agents"
    assert stored["notes/weather"]["metadata"] == {"path": "notes/weather.txt"}  # no heading
    assert stored["install"]["text"] == GUIDES["install.md"]

    found = podium("knowledge", "search", "guides", "weather forecast", "--db", db)

    assert found.exit_code == 0, found.output
    lines = found.stdout.splitlines()
    assert lines[0] == "1 hit (text search)"
    assert lines[1].startswith("1. guides/notes/weather chunk 0  score ")
    assert "matched: " in lines[1] and "weather" in lines[1]
    assert lines[2] == "   " + GUIDES["notes/weather.txt"].strip()


def test_ingest_and_search_on_every_backend(database_url: str, tmp_path: Path) -> None:
    # `--db` takes a URL too: the suite's PostgreSQL when PODIUM_TEST_DATABASE_URL is set.
    docs = write_tree(tmp_path / "docs", dict(GUIDES))

    ingested = podium("knowledge", "ingest", docs, "-n", "guides", "--db", database_url)
    found = podium("knowledge", "search", "guides", "durable steps", "--db", database_url)

    assert ingested.exit_code == 0, ingested.output
    assert ingested.stdout.startswith("ingested 4 documents (4 chunks)")
    assert sorted(documents_of(database_url, "guides")) == [
        "guides/agents",
        "guides/flows",
        "install",
        "notes/weather",
    ]
    assert found.exit_code == 0, found.output
    assert found.stdout.splitlines()[1].startswith("1. guides/guides/flows chunk 0")


def test_search_ranks_hits_and_takes_k(tmp_path: Path) -> None:
    docs = write_tree(
        tmp_path / "docs",
        {
            "a.md": "# Rain\n\nrain rain rain in the valley\n",
            "b.md": "# Showers\n\nrain and showers later\n",
            "c.md": "# Sun\n\nsunny all week, rain unlikely\n",
            "d.md": "# Wind\n\nstrong wind\n",
        },
    )
    db = tmp_path / "p.db"
    podium("knowledge", "ingest", docs, "-n", "weather", "--db", db)

    three = podium("knowledge", "search", "weather", "rain", "--db", db)
    one = podium("knowledge", "search", "weather", "rain", "-k", "1", "--db", db)

    assert three.exit_code == one.exit_code == 0, three.output + one.output
    ranked = [line.split()[1] for line in three.stdout.splitlines()[1:] if line[0].isdigit()]
    assert ranked[0] == "weather/a"
    assert sorted(ranked) == ["weather/a", "weather/b", "weather/c"]
    scores = [float(line.split("score ")[1].split()[0]) for line in three.stdout.splitlines()[1::2]]
    assert scores == sorted(scores, reverse=True)
    assert one.stdout.splitlines()[0] == "1 hit (text search)"
    assert one.stdout.splitlines()[1].startswith("1. weather/a chunk 0")


def test_ingesting_again_updates_documents_by_key(tmp_path: Path) -> None:
    docs = write_tree(tmp_path / "docs", {"a.md": "# One\n\nfirst text\n", "b.txt": "bee\n"})
    db = tmp_path / "p.db"
    podium("knowledge", "ingest", docs, "--namespace", "n", "--db", db)
    (docs / "a.md").write_text("# Uno\n\nsecond text\n", encoding="utf-8")

    again = podium("knowledge", "ingest", docs, "--namespace", "n", "--db", db)

    assert again.exit_code == 0, again.output
    stored = documents_of(db, "n")
    assert sorted(stored) == ["a", "b"]
    assert stored["a"]["text"] == "# Uno\n\nsecond text\n"
    assert stored["a"]["metadata"]["title"] == "Uno"
    found = podium("knowledge", "search", "n", "first", "--db", db)
    assert found.stdout == "0 hits (text search)\n"


def test_progress_lines_when_piped_and_empty_files_skipped(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        f"part-{n:03d}.md": f"# Part {n}\n\nchapter {n} of the manual\n" for n in range(250)
    }
    files["blank.txt"] = "  \n\n"
    docs = write_tree(tmp_path / "docs", files)
    db = tmp_path / "p.db"

    result = podium("knowledge", "ingest", docs, "--namespace", "manual", "--db", db)

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "ingest manual: 100/250 documents (40 %)",
        "ingest manual: 200/250 documents (80 %)",
        "ingest manual: 250/250 documents (100 %)",
        f"skipped {docs / 'blank.txt'}: it is empty",
    ]
    assert result.stdout.startswith("ingested 250 documents (250 chunks)")
    assert len(documents_of(db, "manual")) == 100  # list_documents' default page
    assert "blank" not in documents_of(db, "manual")


@pytest.mark.slow
def test_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    docs = write_tree(
        tmp_path / "docs",
        {f"p{n:03d}.md": f"# P{n}\n\ntext number {n}\n" for n in range(120)},
    )
    db = tmp_path / "p.db"
    leader, follower = pty.openpty()
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="100", PYTHONPATH=str(ROOT / "src"))
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "podium", "knowledge", "ingest", docs, "-n", "terminal", "--db", db],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    output = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(leader)
        assert process.wait(timeout=30) == 0, output.decode(errors="replace")
    text = output.decode(errors="replace")
    assert "━" in text  # rich's bar
    assert "120/120" in text
    assert "ingest terminal:" not in text  # the bar, not the plain lines
    assert "ingested 120 documents" in text


def test_ingest_into_a_named_app_is_seen_only_there(tmp_path: Path) -> None:
    docs = write_tree(tmp_path / "docs", {"secret.md": "# Plans\n\nthe zeppelin project\n"})
    db = tmp_path / "p.db"
    with_runtime(db, lambda runtime: runtime.store.ensure_app("acme"))

    ingested = podium("knowledge", "ingest", docs, "-n", "plans", "--app", "acme", "--db", db)
    in_acme = podium("knowledge", "search", "plans", "zeppelin", "--app", "acme", "--db", db)
    by_id = with_runtime(db, lambda runtime: runtime.store.ensure_app("acme"))
    in_acme_by_id = podium("knowledge", "search", "plans", "zeppelin", "--app", by_id, "--db", db)
    elsewhere = podium("knowledge", "search", "plans", "zeppelin", "--db", db)

    assert ingested.exit_code == in_acme.exit_code == in_acme_by_id.exit_code == 0
    assert in_acme.stdout.splitlines()[1].startswith("1. plans/secret chunk 0")
    assert in_acme_by_id.stdout == in_acme.stdout
    assert "plans/secret" not in elsewhere.stdout


def test_an_unknown_app_is_one_line(tmp_path: Path) -> None:
    docs = write_tree(tmp_path / "docs", {"a.md": "alpha\n"})
    db = tmp_path / "p.db"

    ingest = podium("knowledge", "ingest", docs, "-n", "x", "--app", "nope", "--db", db)
    search = podium("knowledge", "search", "x", "alpha", "--app", "nope", "--db", db)

    message = (
        "error: no app has the id or name 'nope'; leave out --app for the default app, or "
        "create the app first (POST /api/v1/apps)\n"
    )
    assert ingest.exit_code == search.exit_code == 1
    assert ingest.stderr == search.stderr == message


def test_batches_split_by_count_and_by_bytes() -> None:
    files = [
        SourceFile(Path(f"{n}.md"), f"{n}.md", str(n), size)
        for n, size in enumerate([10, 10, 10, 500, 10, 10])
    ]

    by_count = [[f.key for f in batch] for batch in batches(files, 4, 10_000)]
    by_bytes = [[f.key for f in batch] for batch in batches(files, 100, 515)]

    assert by_count == [["0", "1", "2", "3"], ["4", "5"]]
    assert by_bytes == [["0", "1", "2"], ["3", "4"], ["5"]]  # a big file alone if need be


# --- bad directories: one line naming the file, nothing written --------------------------------


def test_a_missing_directory_or_a_file(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    afile = write_tree(tmp_path, {"one.md": "# One\n"}) / "one.md"

    missing = podium("knowledge", "ingest", tmp_path / "nope", "-n", "x", "--db", db)
    file = podium("knowledge", "ingest", afile, "-n", "x", "--db", db)

    assert missing.exit_code == file.exit_code == 1
    assert missing.stderr == (
        f"error: {tmp_path / 'nope'} does not exist; give a directory of .md or .txt files\n"
    )
    assert file.stderr == (
        f"error: {afile} is a file, not a directory; give the directory that holds it\n"
    )
    assert not db.exists()


def test_a_directory_without_text_files(tmp_path: Path) -> None:
    docs = write_tree(tmp_path / "docs", {"a.png": "x", ".hidden.md": "# h\n", "sub/b.json": "{}"})
    db = tmp_path / "p.db"

    result = podium("knowledge", "ingest", docs, "-n", "x", "--db", db)

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {docs} has no .md or .txt files (hidden files and directories are skipped)\n"
    )
    assert not db.exists()


def test_a_file_that_is_not_utf8_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    docs = write_tree(
        tmp_path / "docs",
        {"a.md": "# Fine\n\ngood text\n", "b/latin1.txt": "caf\xe9 au lait\n".encode("latin-1")},
    )
    db = tmp_path / "p.db"

    result = podium("knowledge", "ingest", docs, "-n", "x", "--db", db)

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {docs / 'b' / 'latin1.txt'} is not UTF-8 text (byte 0xe9 at offset 3); "
        "convert it (e.g. iconv -t UTF-8) or move it out of the directory\n"
    )
    assert not db.exists()


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    docs = write_tree(tmp_path / "docs", {"a.md": "# Fine\n"})
    (docs / "gone.md").symlink_to(tmp_path / "nowhere.md")  # listed, but cannot be read
    db = tmp_path / "p.db"

    result = podium("knowledge", "ingest", docs, "-n", "x", "--db", db)

    assert result.exit_code == 1
    assert (
        result.stderr == f"error: {docs / 'gone.md'}: cannot read it (No such file or directory)\n"
    )
    assert not db.exists()


def test_an_oversize_file_is_named_with_the_cap(tmp_path: Path) -> None:
    docs = write_tree(
        tmp_path / "docs",
        {"small.md": "# Small\n\nfine\n", "big.txt": "word " * 300, "medium.md": "x" * 990},
    )
    db = tmp_path / "p.db"
    env = {"PODIUM_KNOWLEDGE_MAX_DOCUMENT_BYTES": "1000"}

    big = podium("knowledge", "ingest", docs, "-n", "x", "--db", db, env=env)
    (docs / "big.txt").unlink()
    # 990 bytes of text, but with its metadata ({"path":"medium.md"}) over the cap.
    medium = podium("knowledge", "ingest", docs, "-n", "x", "--db", db, env=env)

    assert big.exit_code == medium.exit_code == 1
    assert big.stderr == (
        f"error: {docs / 'big.txt'} is 1,500 bytes; a document (its text and metadata) may be "
        "at most 1,000 bytes (PODIUM_KNOWLEDGE_MAX_DOCUMENT_BYTES): split the file or raise "
        "the cap\n"
    )
    assert medium.stderr.startswith(f"error: {docs / 'medium.md'} is 1,010 bytes with its metadata")
    assert not db.exists()


def test_two_files_with_one_key_are_refused(tmp_path: Path) -> None:
    docs = write_tree(tmp_path / "docs", {"intro.md": "# A\n", "intro.txt": "b\n"})

    result = podium("knowledge", "ingest", docs, "-n", "x", "--db", tmp_path / "p.db")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {docs / 'intro.md'} and {docs / 'intro.txt'} would both be document "
        "'intro'; rename one of them\n"
    )


def test_file_names_become_valid_keys(tmp_path: Path) -> None:
    docs = write_tree(
        tmp_path / "docs",
        {"Meeting notes (May).md": "# May\n\nbudget\n", "café/menü.txt": "coffee\n"},
    )
    db = tmp_path / "p.db"

    result = podium("knowledge", "ingest", docs, "-n", "notes", "--db", db)

    assert result.exit_code == 0, result.output
    stored = documents_of(db, "notes")
    assert sorted(stored) == ["Meeting-notes-May-", "cafe/menu"]
    assert stored["cafe/menu"]["metadata"] == {"path": "café/menü.txt"}


def test_a_key_too_long_is_named(tmp_path: Path) -> None:
    name = "x" * 201
    docs = write_tree(tmp_path / "docs", {f"{name}.md": "long name\n"})
    db = tmp_path / "p.db"

    result = podium("knowledge", "ingest", docs, "-n", "x", "--db", db)

    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: {docs / (name + '.md')}: its path makes no document key: document key "
        f"'{name}' is not valid: 1 to 200 letters"
    )
    assert not db.exists()


def test_a_bad_or_reserved_namespace_is_refused_before_reading(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    docs = write_tree(tmp_path / "docs", {"a.md": "alpha\n"})

    bad = podium("knowledge", "ingest", docs, "-n", "my notes", "--db", db)
    reserved = podium("knowledge", "ingest", docs, "-n", "_agents", "--db", db)

    assert bad.exit_code == reserved.exit_code == 1
    assert bad.stderr == (
        "error: namespace 'my notes' is not valid: 1 to 64 letters, digits and _ . - starting "
        "with a letter or digit, e.g. 'handbook'\n"
    )
    assert reserved.stderr.startswith(
        "error: namespace '_agents' is reserved: names starting with _ belong to Podium's own "
        "services"
    )
    assert not db.exists()


# --- search: bad input --------------------------------------------------------------------


def test_search_bad_input_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    missing_db = podium("knowledge", "search", "handbook", "refund", "--db", db)
    docs = write_tree(tmp_path / "docs", {"a.md": "# Refunds\n\nrefund policy\n"})
    podium("knowledge", "ingest", docs, "-n", "handbook", "--db", db)

    unknown = podium("knowledge", "search", "nope", "refund", "--db", db)
    empty = podium("knowledge", "search", "handbook", "?!", "--db", db)
    too_many = podium("knowledge", "search", "handbook", "refund", "-k", "51", "--db", db)
    zero = podium("knowledge", "search", "handbook", "refund", "-k", "0", "--db", db)
    found = podium("knowledge", "search", "handbook", "refund", "--db", db)

    assert missing_db.exit_code == 1
    assert missing_db.stderr == (
        f"error: {db} does not exist; ingest documents first with podium knowledge ingest DIR "
        f"--namespace handbook --db {db}\n"
    )
    assert unknown.exit_code == empty.exit_code == too_many.exit_code == 1
    assert unknown.stderr.startswith(
        "error: knowledge namespace 'nope' has no documents in this app"
    )
    assert empty.stderr == "error: the query '?!' has no words to search for (letters or digits)\n"
    assert too_many.stderr == (
        "error: k is the number of results, from 1 to 50 (PODIUM_KNOWLEDGE_MAX_K), not 51\n"
    )
    assert zero.exit_code == 2 and "-k" in zero.stderr  # click's own range check
    # Without an embeddings model the answer says so, on stderr (stdout is the hits).
    assert found.exit_code == 0
    assert found.stderr.startswith("note: full-text search only: this app has no embeddings model")
    assert found.stdout.splitlines()[1].startswith("1. handbook/a chunk 0")


# --- docs/knowledge-cli.md ------------------------------------------------------------------


@pytest.mark.slow
def test_the_document_runs_as_printed(tmp_path: Path) -> None:
    from tests.packs.test_docs import MARKER, matches, runnable_blocks

    blocks = runnable_blocks((ROOT / "docs" / "knowledge-cli.md").read_text(encoding="utf-8"))
    assert len(blocks) == 6
    script = f'podium() {{ "{sys.executable}" -m podium "$@"; }}\nset -euo pipefail\n' + "".join(
        f"echo {MARKER}\n{block.code}\n" for block in blocks
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=50
    )

    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout.split(MARKER + "\n")[1:]
    for block, output in zip(blocks, printed, strict=True):
        if block.expected is not None:
            assert matches(block.expected, output), f"{block.code}\nprinted:\n{output}"
