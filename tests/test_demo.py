"""`podium demo`: run as README.md prints it (both journeys, its output as shown, within a
generous bound), with --db (the database is kept and can be used again), stopped by Ctrl-C
(the embedded server ends, the throwaway database is removed), and refused with what to do
when a shipped pack cannot be loaded. How the events are described is tested last."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from tests.api.live import BIN, ROOT

from podium.assembly import create_app, default_registry
from podium.cli_display import display_url
from podium.config import Settings
from podium.demo.journeys import DemoClient, Tour, run_demo, run_ended
from podium.demo.server import DemoFailed, demo_settings, with_shipped_packs
from podium.demo.view import DemoView, EventStream, describe, describe_patch
from podium.engine.registry import Registry
from podium.packs.loader import discover
from podium.storage import packs as packs_tx
from podium.storage.store import open_store
from podium.storage.urls import sqlite_path

README = ROOT / "README.md"
BOUND_SECONDS = 60  # a loaded CI machine; the demo takes a few seconds (docs/demo.md)
ID = re.compile(r"\b([a-z]{2,4})_[0-9a-z]{26}\b")
VARYING = [
    (re.compile(r"^ *\d+\.\d\ds  "), "<t>  "),  # the seconds since the start
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"/podium-demo-[^/]+/"), "/podium-demo-<dir>/"),
    (re.compile(r"done in \d+\.\d s"), "done in <n> s"),
    (re.compile(r"=\d{10}\.\d+"), "=<time>"),
]


def demo_block() -> tuple[list[str], str]:
    """The README's `podium demo` block: the command (as argv) and its documented output."""
    match = re.search(
        r"^```console\n\$ (\S*podium demo[^\n]*)\n(.*?)^```$", README.read_text(), re.S | re.M
    )
    assert match, "README.md shows no ```console block starting with `$ .venv/bin/podium demo`"
    return shlex.split(match.group(1)), match.group(2)


def normalize(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        line = ID.sub(r"\1_…", line.rstrip())
        for pattern, mask in VARYING:
            line = pattern.sub(mask, line)
        lines.append(line)
    return lines


def first_missing(documented: str, actual: str) -> str | None:
    """None when each documented line is a line of `actual`, in order (`…` stands for
    anything); else the first one that is not."""
    lines, position = normalize(actual), 0
    for wanted in normalize(documented):
        if not wanted.strip() or wanted.strip() == "…":
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in wanted.split("…")))
        while position < len(lines) and not pattern.fullmatch(lines[position]):
            position += 1
        if position == len(lines):
            return wanted
        position += 1
    return None


def clean_env() -> dict[str, str]:
    """A fresh clone's environment: no PODIUM_* setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}


def podium(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    assert argv[0].endswith("podium"), argv
    command = [str(BIN / "podium"), *argv[1:]]  # .venv/bin/podium: this test's venv
    return subprocess.run(
        command, capture_output=True, text=True, env=clean_env(), cwd=ROOT, check=False,
        timeout=BOUND_SECONDS + 30, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_readme_shows_the_demo_first_and_make_runs_it() -> None:
    readme = README.read_text()
    setup = readme.index("## Set-up")
    # In Set-up the demo comes first, then `make serve` (Start here, above, is `make dev`).
    assert setup < readme.index("$ .venv/bin/podium demo") < readme.index("make serve", setup)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: .*\n\t\$\(BIN\)/podium demo$", makefile, re.M)
    assert re.search(r"^demo-flow: .*\n\t\$\(BIN\)/podium run examples/flows/chain", makefile, re.M)
    argv, _ = demo_block()
    assert argv == [".venv/bin/podium", "demo"]


def test_the_matcher_masks_what_varies_and_refuses_other_output() -> None:
    actual = '  3.10s  run.succeeded  AppBuilder  artifact_id="art_01m916pr6vp63zc4fqpak3qq00"\n'
    actual += "podium demo: done in 4.8 s, more"
    assert first_missing('  1.00s  run.succeeded  AppBuilder  artifact_id="art_0…"', actual)
    assert first_missing('  1.00s  run.succeeded  AppBuilder  artifact_id="art_…"', actual) is None
    assert first_missing("…done in 9.9 s…", actual) is None
    assert first_missing("  1.00s  run.failed  AppBuilder…", actual) is not None
    assert first_missing("…done in 9.9 s…\n  1.00s  run.succeeded…", actual) is not None


@pytest.mark.slow
@pytest.mark.timeout(BOUND_SECONDS + 60)
def test_podium_demo_runs_as_the_readme_prints_it() -> None:
    argv, documented = demo_block()
    began = time.monotonic()
    done = podium(argv)
    elapsed = time.monotonic() - began
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert elapsed < BOUND_SECONDS, f"podium demo took {elapsed:.1f} s:\n{output}"
    wrong = first_missing(documented, done.stdout)
    assert wrong is None, (
        f"README shows\n{documented}\nbut podium demo printed\n{output}\n({wrong!r})"
    )
    # Both journeys, as their events streamed in.
    for seen in (
        "AppBuilder → RevenueDashboard",
        "artifact.state.updated AppBuilder       ████████████████████ 100%",
        'click "View Revenue" on AppBuilderArtifact: launch_workflow RevenueDashboard',
        "run.succeeded          RevenueDashboard",
        "Lead submit → analyze",
        "lead.submitted",
        "lead.analyzed          leads_qualify",
        "run.succeeded          leads_qualify",
    ):
        assert seen in done.stdout, f"{seen!r} not in\n{output}"
    assert "run.failed" not in done.stdout and "Traceback" not in output
    throwaway = re.search(r"database (/\S+/demo\.db) \(throwaway\)", done.stdout)
    assert throwaway and not Path(throwaway.group(1)).parent.exists(), "left behind"


@pytest.mark.slow
@pytest.mark.timeout(2 * BOUND_SECONDS + 60)
def test_with_db_the_database_is_kept_and_a_second_demo_uses_it_again(database_url: str) -> None:
    # A file path for SQLite (as a user types it), the URL for PostgreSQL.
    db = str(sqlite_path(database_url)) if database_url.startswith("sqlite") else database_url
    for _ in range(2):
        done = podium(["podium", "demo", "--db", db])
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"  database {display_url(database_url)}\n" in done.stdout
    enabled = asyncio.run(enablements(database_url))
    assert sorted(pack for _, pack in enabled) == ["appbuilder"] * 2 + ["leads"] * 2
    assert len({app for app, _ in enabled}) == 2  # an app per demo


async def enablements(url: str) -> list[tuple[str, str]]:
    store = open_store(url, Settings())
    await store.open(migrate=False)
    try:
        found: list[tuple[str, str]] = await store.run_read(packs_tx.enablements)
        return found
    finally:
        await store.close()


@pytest.mark.slow
@pytest.mark.timeout(BOUND_SECONDS + 30)
def test_ctrl_c_stops_the_embedded_server_and_removes_the_throwaway_database() -> None:
    # --pause holds the journeys back, so that the signal surely comes before the end.
    with subprocess.Popen(
        [str(BIN / "podium"), "demo", "--pause", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=ROOT,
    ) as process:
        assert process.stdout is not None
        header = process.stdout.readline()
        origin = re.search(r"at (http://127\.0\.0\.1:\d+)", header)
        database = re.search(r"database (/\S+/demo\.db) \(throwaway\)", process.stdout.readline())
        assert origin and database, header
        assert Path(database.group(1)).exists()
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        out, err = process.communicate(timeout=30)
        assert process.returncode == 130, out + err
        assert err.strip().splitlines()[-1] == "interrupted", err
        assert "podium demo: done in" not in out and "Traceback" not in err
    assert not Path(database.group(1)).parent.exists()
    with pytest.raises(OSError):  # nothing listens there any more
        urllib.request.urlopen(f"{origin.group(1)}/api/v1/health", timeout=2)


async def guestbook_journey(client: DemoClient, stream: EventStream, view: DemoView) -> None:
    """The example pack's journey: sign (a flow whose node emits `guestbook.signed`), then
    the gated thanks."""
    view.title("Guestbook: sign, then be thanked  (pack guestbook)")
    sign = {"flow": "guestbook_sign", "input": {"name": "Ada", "message": "Hello!"}}
    view.step("POST /sessions  flow guestbook_sign")
    signed = await client.call("POST", "{app}/sessions", sign)
    await run_ended(stream, signed["run_id"], "guestbook_sign")
    await stream.wait_for(lambda e: e["type"] == "guestbook.signed", "guestbook.signed", 30)
    view.step("POST /sessions  flow guestbook_thanks")
    thanks = {"flow": "guestbook_thanks", "input": {"name": "Ada"}}
    thanked = await client.call("POST", "{app}/sessions", thanks)
    await run_ended(stream, thanked["run_id"], "guestbook_thanks")


GUESTBOOK_TOUR = Tour({"guestbook": str(ROOT / "examples" / "guestbook")}, (guestbook_journey,))


@pytest.mark.slow
def test_the_machinery_walks_any_pack_live_and_leaves_nothing_behind(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's parts on the example pack, in this process: the embedded server, the
    pack enabled over HTTP, the events streamed and shown, the server stopped and the
    throwaway database removed."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    run_demo(Settings(), None, default_registry, create_app, GUESTBOOK_TOUR)
    shown = capsys.readouterr().out
    lines = [line.split("s  ", 1)[-1] for line in shown.splitlines()]
    assert "▶ PUT /packs/guestbook  enabled: flows guestbook_sign, guestbook_thanks" in lines
    started = lines.index("▶ POST /sessions  flow guestbook_thanks")
    signed = next(i for i, line in enumerate(lines) if line.startswith("guestbook.signed"))
    assert signed < started, shown  # shown as it streamed in, before the next request
    assert "run.succeeded          guestbook_thanks" in [line.rstrip() for line in lines]
    assert re.search(r"^podium demo: done in \d+\.\d s", shown, re.M), shown
    assert list(tmp_path.iterdir()) == []  # the throwaway database is gone


def test_a_pack_that_cannot_be_loaded_stops_the_demo_before_anything_starts(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "brokenpack"
    broken.mkdir()
    (broken / "__init__.py").write_text("PACK = None  # no `pack`\n")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**clean_env(), "PODIUM_PACKS": str(broken), "TMPDIR": str(scratch)}
    done = subprocess.run(
        [str(BIN / "podium"), "demo"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == (
        f"error: PODIUM_PACKS names {str(broken)!r}, whose module defines no 'pack'; "
        "define pack = Pack(name=..., ...) in it\n"
    )
    assert done.stdout == "" and list(scratch.iterdir()) == []  # no server, no database


def test_a_shipped_pack_that_cannot_be_loaded_is_named_with_what_to_do(tmp_path: Path) -> None:
    settings = demo_settings(Settings(), f"sqlite:///{tmp_path}/demo.db")
    shipped = {
        "guestbook": str(ROOT / "examples" / "guestbook"),
        "storyboard": "podium.packs.no_such_pack",
    }
    assembled: list[Registry] = []

    def assemble(settings: Settings) -> Registry:
        registry = Registry()
        registry.packs = tuple(discover(list(settings.packs)))
        assembled.append(registry)
        return registry

    with pytest.raises(DemoFailed) as refused:
        with_shipped_packs(settings, assemble, shipped)
    message = refused.value.message
    assert message.startswith(
        "the demo needs the packs guestbook, storyboard, which ship with podium"
    )
    assert "; storyboard cannot be loaded (" in message
    assert "podium.packs.no_such_pack" in message and "make venv" in message
    assert "pip install -e ." in message
    assert not (tmp_path / "demo.db").exists()  # refused before any server or database


def test_shipped_packs_missing_from_the_entry_points_are_added_by_module(tmp_path: Path) -> None:
    settings = demo_settings(Settings(packs=[]), f"sqlite:///{tmp_path}/demo.db")

    def assemble(settings: Settings) -> Registry:
        registry = Registry()
        registry.packs = tuple(discover(list(settings.packs)))
        return registry

    shipped = {"guestbook": str(ROOT / "examples" / "guestbook")}
    found, registry = with_shipped_packs(settings, assemble, shipped)
    assert found.packs == [str(ROOT / "examples" / "guestbook")]
    assert "guestbook" in {pack.name for pack in registry.packs}


def test_the_demo_needs_nothing_from_the_environment() -> None:
    configured = Settings(
        openai_api_key="sk-real", hubspot_access_token="real", default_model="openai/gpt-4o"
    )
    settings = demo_settings(configured, "sqlite:///x.db")
    assert settings.default_model == "offline/echo"
    assert settings.openai_api_key is None and settings.hubspot_access_token is None
    assert settings.sendgrid_api_key is None and settings.google_calendar_access_token is None
    assert settings.secret_key and settings.secret_key != demo_settings(configured, "x").secret_key


def test_events_are_described_in_a_line() -> None:
    assert describe_patch({"build_progress": 50, "current_stage": "test"}) == (
        "██████████░░░░░░░░░░ 50%  test"
    )
    assert describe("node.failed", {"node_id": "n", "error": "boom"}) == "n: boom"
    assert describe("lead.analyzed", {"score": 66, "tier": "warm", "reasoning": [1, 2]}) == (
        'score=66 tier="warm" reasoning=[2]'
    )
    assert describe("run.succeeded", {"output_omitted": True}) == ""
    assert describe("message.created", {"agent": "a", "content": "x " * 100}).endswith("…")
