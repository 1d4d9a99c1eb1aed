"""The `podium` command, as a user types it: every example runs, questions are answered on
standard input, bad input gets one line and changes nothing, runs can be listed, shown,
resumed, cancelled and processed by `podium worker`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from podium import Podium, __version__
from podium.assembly import default_registry
from podium.cli import event_loop_factory, main
from podium.engine.loader import read_flow_file
from podium.events.envelope import Event
from podium.storage.records import RunRecord
from podium.storage.urls import sqlite_url

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "flows"


def podium(*args: str | Path, input: str | None = None) -> Result:
    result = CliRunner().invoke(main, [str(arg) for arg in args], input=input)
    # Whatever happened, the user saw messages, not a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def run_api(db: Path, use: Any, workers: int = 0) -> Any:
    async def session() -> Any:
        async with Podium.open(sqlite_url(db), workers=workers) as runtime:
            return await use(runtime)

    return asyncio.run(session())


def all_runs(db: Path) -> list[RunRecord]:
    return run_api(db, lambda runtime: runtime.store.list_runs(limit=100))  # type: ignore[no-any-return]


def queue_run(db: Path, flow_file: Path, run_input: dict[str, Any]) -> str:
    """A run left queued: started through the API with no worker to take it."""

    async def start(runtime: Podium) -> str:
        flow, _ = read_flow_file(flow_file)
        await runtime.register_flow(flow, base_path=flow_file.parent)
        return (await runtime.start(flow.name, run_input)).run_id

    return run_api(db, start)  # type: ignore[no-any-return]


def printed_json(text: str, label: str) -> Any:
    """The JSON value printed after the line `label:` (the value ends at a closing line)."""
    lines = text.splitlines()
    start = lines.index(f"{label}:") + 1
    end = next(i for i in range(start, len(lines)) if lines[i] in ("}", "]"))
    return json.loads("\n".join(lines[start : end + 1]))


def write_flow(path: Path, flow: dict[str, Any]) -> Path:
    path.write_text(json.dumps(flow), encoding="utf-8")
    return path


# --- podium run -------------------------------------------------------------------------


EXAMPLE_RUNS = [
    (
        "chain.json",
        {"text": "Hello   Durable World"},
        {"summary": "'hello durable world' has 3 words", "words": 3},
        ["node normalize: completed", "node count: completed", "node summarize: completed"],
    ),
    (
        "fanout.json",
        {"text": "Podium runs flows durably"},
        {"report": {"vowels": 7, "longest": "durably", "unique": 4}},
        ["node plan: completed", "node combine: completed"],
    ),
    (
        "router.json",
        {"score": 85},
        {"decision": "call today (score 85)"},
        ["node hot: completed", "node warm: skipped", "node cold: skipped"],
    ),
    (
        "router.json",
        {"score": 10},
        {"decision": "add to the newsletter (score 10)"},
        ["node cold: completed", "node hot: skipped", "node warm: skipped"],
    ),
    (
        "loop.yaml",
        {"topic": "durable flows"},
        {"quality": 3, "published": "published after 3 drafts: durable flows (draft 3)"},
        ["node draft: completed (iteration 2)", "node review: completed (iteration 2)"],
    ),
]


@pytest.mark.parametrize(("example", "run_input", "expected", "lines"), EXAMPLE_RUNS)
def test_every_example_runs_to_success(
    tmp_path: Path,
    example: str,
    run_input: dict[str, Any],
    expected: dict[str, Any],
    lines: list[str],
) -> None:
    db = tmp_path / "podium.db"
    result = podium("run", EXAMPLES / example, "--input", json.dumps(run_input), "--db", db)

    assert result.exit_code == 0, result.output
    (run,) = all_runs(db)
    assert run.status == "succeeded"
    assert result.stdout.startswith(f"run {run.id}: flow '{Path(example).stem}' v1, session ")
    assert f"run {run.id} succeeded in " in result.stdout
    for line in lines:
        assert line in result.stdout.splitlines()
    state = printed_json(result.stdout, "state")
    assert state.items() >= expected.items()
    assert result.stderr == ""


def test_router_prints_the_output_node_result(tmp_path: Path) -> None:
    db = tmp_path / "podium.db"
    result = podium("run", EXAMPLES / "router.json", "--input", '{"score": 60}', "--db", db)

    assert result.exit_code == 0
    assert printed_json(result.stdout, "output") == {
        "decision": "send a case study (score 60)",
        "score": 60,
    }


def test_ask_is_answered_from_standard_input(tmp_path: Path) -> None:
    result = podium("run", EXAMPLES / "ask.json", "--db", tmp_path / "p.db", input="Ada\n")

    assert result.exit_code == 0, result.output
    assert "node ask_name: waiting: What is your name?" in result.stdout
    assert "? What is your name?  (ask_name)\n> Ada\n" in result.stdout
    assert printed_json(result.stdout, "state") == {"name": "Ada", "greeting": "Hello, Ada!"}


def test_question_with_choices_takes_a_number_or_the_text_and_asks_again(
    tmp_path: Path,
) -> None:
    flow = write_flow(
        tmp_path / "mood.json",
        {
            "name": "mood",
            "nodes": [
                {
                    "id": "mood",
                    "type": "human",
                    "config": {"question": "How is it going?", "choices": ["well", "badly"]},
                }
            ],
        },
    )
    db = tmp_path / "p.db"

    by_number = podium("run", flow, "--db", db, input="2\n")
    retried = podium("run", flow, "--db", db, input="meh\nWELL\n")

    assert by_number.exit_code == 0
    assert "  1) well\n  2) badly\n" in by_number.stdout
    assert printed_json(by_number.stdout, "state") == {"answer": "badly"}
    assert retried.exit_code == 0
    assert "answer with one of: 1) well, 2) badly" in retried.stdout
    assert printed_json(retried.stdout, "state") == {"answer": "well"}


def test_question_with_a_schema_takes_json(tmp_path: Path) -> None:
    flow = write_flow(
        tmp_path / "budget.json",
        {
            "name": "budget",
            "nodes": [
                {
                    "id": "budget",
                    "type": "human",
                    "config": {"question": "Budget?", "schema": {"type": "object"}},
                }
            ],
        },
    )
    result = podium("run", flow, "--db", tmp_path / "p.db", input='{"amount": 5000}\n')

    assert result.exit_code == 0, result.output
    assert printed_json(result.stdout, "state") == {"answer": {"amount": 5000}}


def test_unanswered_question_leaves_the_run_waiting_and_resume_finishes_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "p.db"
    waiting = podium("run", EXAMPLES / "ask.json", "--db", db, input="")
    (run,) = all_runs(db)
    shown = podium("runs", "show", run.id, "--db", db)
    resumed = podium("runs", "resume", run.id, "--db", db, input="Grace\n")

    assert waiting.exit_code == 3
    assert waiting.stderr == (
        f"run {run.id} is waiting for an answer; answer it later with: "
        f"podium runs resume {run.id} --db {db}\n"
    )
    assert run.status == "interrupted"
    assert shown.exit_code == 0
    assert "status   interrupted" in shown.stdout
    assert "  What is your name?" in shown.stdout
    assert f"answer it with: podium runs resume {run.id} --db {db}" in shown.stdout
    assert resumed.exit_code == 0, resumed.output
    assert printed_json(resumed.stdout, "state") == {"name": "Grace", "greeting": "Hello, Grace!"}
    assert [r.status for r in all_runs(db)] == ["succeeded"]


def test_failed_run_prints_its_error_and_exits_1(tmp_path: Path) -> None:
    flow = write_flow(
        tmp_path / "fails.json",
        {
            "name": "fails",
            "nodes": [
                {"id": "first", "type": "template", "config": {"template": "ok"}},
                {"id": "explode", "type": "python", "config": {"function": "support.nodes:boom"}},
            ],
            "edges": [{"source": "first", "target": "explode"}],
        },
    )
    db = tmp_path / "p.db"
    result = podium("run", flow, "--db", db)

    (run,) = all_runs(db)
    assert result.exit_code == 1
    assert "node explode: failed: RuntimeError: explode exploded" in result.stdout
    assert printed_json(result.stdout, "state") == {"text": "ok"}
    assert re.fullmatch(
        rf"error: run {run.id} failed in \S+ \(2 steps\): "
        r"node 'explode' failed: RuntimeError: explode exploded\n",
        result.stderr,
    )


def test_a_registered_flow_runs_by_name(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    podium("run", EXAMPLES / "chain.json", "--input", '{"text": "a b"}', "--db", db)

    result = podium("run", "chain", "--input", '{"text": "one two three"}', "--db", db)

    assert result.exit_code == 0, result.output
    assert printed_json(result.stdout, "state")["words"] == 3


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            '{"text": ',
            "error: --input is not valid JSON (line 1, column 10: Expecting value); "
            """write a JSON object, e.g. --input '{"name": "Ada"}'\n""",
        ),
        (
            "[1, 2]",
            "error: --input must be a JSON object, not list; "
            """e.g. --input '{"name": "Ada"}'\n""",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_database(
    tmp_path: Path, given: str, message: str
) -> None:
    db = tmp_path / "p.db"
    result = podium("run", EXAMPLES / "chain.json", "--input", given, "--db", db)

    assert result.exit_code == 2
    assert result.stderr == message
    assert result.stdout == ""
    assert not db.exists()


def test_bad_input_adds_no_run_to_an_existing_database(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    podium("run", EXAMPLES / "chain.json", "--input", '{"text": "a"}', "--db", db)

    result = podium("run", EXAMPLES / "chain.json", "--input", "nope", "--db", db)

    assert result.exit_code == 2
    assert len(all_runs(db)) == 1


def test_broken_flow_file_is_one_line_and_no_database(tmp_path: Path) -> None:
    flow = write_flow(
        tmp_path / "dangling.json",
        {
            "name": "dangling",
            "nodes": [{"id": "a", "type": "template", "config": {"template": "x"}}],
            "edges": [{"source": "a", "target": "ghost"}],
        },
    )
    db = tmp_path / "p.db"
    result = podium("run", flow, "--db", db)

    assert result.exit_code == 1
    assert result.stderr == f"error: {flow}: edge a → ghost points to unknown node 'ghost'\n"
    assert not db.exists()


def test_missing_flow_file_and_unknown_flow_name(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    missing = podium("run", tmp_path / "nope.json", "--db", db)
    unknown = podium("run", "nope", "--db", db)

    assert missing.exit_code == 1
    assert (
        missing.stderr
        == f"error: {tmp_path / 'nope.json'}: flow file '{tmp_path / 'nope.json'}' does not exist\n"
    )
    assert unknown.exit_code == 1
    assert (
        unknown.stderr == "error: no flow named 'nope' is registered; register it or give a file\n"
    )
    assert not db.exists()


def test_a_file_that_is_not_a_database_is_one_line_and_left_alone(tmp_path: Path) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello, this is not SQLite\n", encoding="utf-8")
    listed = podium("runs", "list", "--db", not_a_db)
    ran = podium("run", EXAMPLES / "chain.json", "--db", not_a_db)
    directory = podium("runs", "list", "--db", tmp_path)

    assert listed.exit_code == ran.exit_code == directory.exit_code == 1
    message = f"error: {not_a_db} is not a SQLite database; give another --db file\n"
    assert listed.stderr == ran.stderr == message
    assert not_a_db.read_text(encoding="utf-8") == "hello, this is not SQLite\n"
    assert directory.stderr == (
        f"error: {tmp_path} is a directory; give a database file, e.g. --db {tmp_path}/podium.db\n"
    )


# --- podium runs ----------------------------------------------------------------------------


def test_runs_list_after_a_run(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    assert podium("runs", "list", "--db", db).stdout == "no runs\n"
    podium("run", EXAMPLES / "chain.json", "--input", '{"text": "a b"}', "--db", db)
    (run,) = all_runs(db)

    listed = podium("runs", "list", "--db", db)
    failed_only = podium("runs", "list", "--status", "failed", "--db", db)

    assert listed.exit_code == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["id", "flow", "session", "status", "created", "steps"]
    assert row.split()[:5] == [run.id, "chain", "v1", run.session_id, "succeeded"]
    assert row.split()[-1] == "3"
    assert failed_only.stdout == "no runs with status failed\n"


def test_runs_show_a_finished_run(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    podium("run", EXAMPLES / "chain.json", "--input", '{"text": "a b"}', "--db", db)
    (run,) = all_runs(db)

    shown = podium("runs", "show", run.id, "--db", db)

    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert lines[:4] == [
        f"run      {run.id}",
        "flow     chain v1",
        f"session  {run.session_id} (completed)",
        "status   succeeded",
    ]
    assert 'input    {"text": "a b"}' in lines
    header = next(
        i
        for i, line in enumerate(lines)
        if line.split() == ["node", "iteration", "attempt", "status", "took", "error"]
    )
    steps = [line.split()[:4] for line in lines[header + 1 : header + 4]]
    assert steps == [
        ["normalize", "0", "1", "succeeded"],
        ["count", "0", "1", "succeeded"],
        ["summarize", "0", "1", "succeeded"],
    ]
    assert lines[header + 4 :][:2] == ["", "state:"]


def test_runs_show_of_an_unknown_run(tmp_path: Path) -> None:
    result = podium("runs", "show", "run_x", "--db", tmp_path / "p.db")

    assert result.exit_code == 1
    assert result.stderr == "error: run 'run_x' does not exist\n"
    assert result.stdout == ""


def test_runs_cancel(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    podium("run", EXAMPLES / "ask.json", "--db", db, input="")
    (run,) = all_runs(db)

    cancelled = podium("runs", "cancel", run.id, "--db", db)
    again = podium("runs", "cancel", run.id, "--db", db)
    resumed = podium("runs", "resume", run.id, "--db", db)
    unknown = podium("runs", "cancel", "run_x", "--db", db)

    assert cancelled.exit_code == 0
    assert cancelled.stdout == f"cancelled run {run.id}\n"
    assert [r.status for r in all_runs(db)] == ["cancelled"]
    assert again.exit_code == 1
    assert again.stderr == (
        f"error: run {run.id} already ended (cancelled); there is nothing to cancel\n"
    )
    assert resumed.exit_code == 1
    assert resumed.stderr == (
        f"error: run {run.id} already ended (cancelled); there is nothing to resume\n"
    )
    assert unknown.stderr == "error: run 'run_x' does not exist\n"


def test_runs_resume_processes_a_queued_run(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    run_id = queue_run(db, EXAMPLES / "chain.json", {"text": "x y z"})

    result = podium("runs", "resume", run_id, "--db", db)

    assert result.exit_code == 0, result.output
    assert f"run {run_id} succeeded in " in result.stdout
    assert printed_json(result.stdout, "state")["words"] == 3


# --- podium worker ------------------------------------------------------------------------------


def test_worker_until_idle_processes_queued_runs(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    first = queue_run(db, EXAMPLES / "chain.json", {"text": "a b"})
    second = queue_run(db, EXAMPLES / "ask.json", {})

    result = podium("worker", "--until-idle", "--db", db)

    assert result.exit_code == 0, result.output
    assert result.stdout == "worker: processed 2 runs (1 succeeded, 1 waiting for an answer)\n"
    statuses = {run.id: run.status for run in all_runs(db)}
    assert statuses == {first: "succeeded", second: "interrupted"}
    assert podium("worker", "--until-idle", "--db", db).stdout == "worker: processed 0 runs\n"


def test_the_worker_runs_on_uvloop_when_it_is_installed() -> None:
    import uvloop  # a dependency of Podium on Linux and macOS

    factory = event_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_worker_until_idle_takes_over_a_run_whose_lease_expired(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    run_id = queue_run(db, EXAMPLES / "chain.json", {"text": "a b"})

    async def claim_and_vanish(runtime: Podium) -> str:
        claim = await runtime.store.claim_next_run("crashed-worker", lease_seconds=0.01)
        assert claim is not None
        return claim.run.status

    assert run_api(db, claim_and_vanish) == "running"
    time.sleep(0.05)
    result = podium("worker", "--until-idle", "--concurrency", "1", "--db", db)

    assert result.exit_code == 0, result.output
    assert result.stdout == "worker: processed 1 run (1 succeeded)\n"
    assert [(run.id, run.status) for run in all_runs(db)] == [(run_id, "succeeded")]


# --- podium flows validate, db upgrade, --version ------------------------------------------------


def test_flows_validate_good_files() -> None:
    result = podium("flows", "validate", EXAMPLES / "chain.json", EXAMPLES / "loop.yaml")

    assert result.exit_code == 0
    assert result.stdout == (
        f"{EXAMPLES / 'chain.json'}: ok: flow 'chain' (3 nodes, 2 edges)\n"
        f"{EXAMPLES / 'loop.yaml'}: ok: flow 'loop' (3 nodes, 3 edges)\n"
    )


def test_every_example_is_valid() -> None:
    files = sorted(EXAMPLES.glob("*.json")) + sorted(EXAMPLES.glob("*.yaml"))
    result = podium("flows", "validate", *files)

    assert len(files) == 5
    assert result.exit_code == 0, result.output
    assert result.stdout.count(": ok: flow ") == 5


def test_flows_validate_broken_files(tmp_path: Path) -> None:
    template = {"type": "template", "config": {"template": "x"}}
    dangling = write_flow(
        tmp_path / "dangling.json",
        {
            "name": "dangling",
            "nodes": [{"id": "a", **template}],
            "edges": [{"source": "a", "target": "ghost"}],
        },
    )
    unknown_type = write_flow(
        tmp_path / "unknown_type.json",
        {
            "name": "typo",
            "nodes": [{"id": "a", **template}, {"id": "b", "type": "magic"}],
            "edges": [{"source": "a", "target": "b"}],
        },
    )
    cycle = write_flow(
        tmp_path / "cycle.json",
        {
            "name": "cyclic",
            "nodes": [
                {"id": "start", **template},
                {"id": "a", **template},
                {"id": "b", **template},
            ],
            "edges": [
                {"source": "start", "target": "a"},
                {"source": "a", "target": "b"},
                {"source": "b", "target": "a"},
            ],
        },
    )
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"name": "bad",\n  "nodes": [\n', encoding="utf-8")
    two_problems = write_flow(
        tmp_path / "two.json",
        {
            "name": "two",
            "nodes": [{"id": "a", **template}, {"id": "a", **template}],
            "edges": [{"source": "a", "target": "nowhere"}],
        },
    )

    result = podium(
        "flows",
        "validate",
        dangling,
        unknown_type,
        cycle,
        bad_json,
        two_problems,
        EXAMPLES / "ask.json",
    )

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{dangling}: edge a → ghost points to unknown node 'ghost'",
        f"{unknown_type}: node 'b' has unknown type 'magic' "
        f"(known types: {', '.join(default_registry().node_type_names())})",
        f"{cycle}: flow 'cyclic' has a cycle a → b → a; "
        "mark the edge b → a with loop: true and max_iterations",
        f"{bad_json}: not valid JSON (line 3, column 1: Expecting value)",
        f"{two_problems}: node id 'a' is used more than once",
        f"{two_problems}: edge a → nowhere points to unknown node 'nowhere'",
        f"{EXAMPLES / 'ask.json'}: ok: flow 'ask' (2 nodes, 1 edge)",
    ]


def test_run_of_a_file_with_several_problems_names_the_first_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    flow = write_flow(
        tmp_path / "two.json",
        {
            "name": "two",
            "nodes": [{"id": "a", "type": "template", "config": {"template": "x"}}] * 2,
            "edges": [{"source": "a", "target": "nowhere"}],
        },
    )
    result = podium("run", flow, "--db", tmp_path / "p.db")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {flow}: node id 'a' is used more than once "
        f"(and 1 more: podium flows validate {flow})\n"
    )


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "new" / "p.db"
    result = podium("db", "upgrade", "--db", db)

    assert result.exit_code == 0
    # The shipped leads pack (installed through its entry point) has tables of its own.
    assert result.stdout == (
        f"database sqlite:///{db} is at revision 0016 (and the tables of packs leads, storyflow)\n"
    )
    assert all_runs(db) == []


def test_packs_list_and_db_upgrade_with_the_example_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "p.db"
    shipped = podium("packs", "list", "--db", db).stdout.splitlines()
    # The shipped packs, through the entry points `make venv` installs.
    names = [line.split()[0] for line in shipped]
    assert names == ["pack", "appbuilder", "leads", "orchestrator", "storyflow"]
    assert shipped[2].split()[-5:] == ["-", "entry", "point", "leads", "(podium.packs.leads:pack)"]
    monkeypatch.setenv("PODIUM_PACKS", str(ROOT / "examples" / "guestbook"))
    upgraded = podium("db", "upgrade", "--db", db)
    assert upgraded.stdout == (
        f"database sqlite:///{db} is at revision 0016 "
        "(and the tables of packs leads, storyflow, guestbook)\n"
    )
    with sqlite3.connect(db) as connection:
        [(version,)] = connection.execute("SELECT version_num FROM alembic_version_guestbook")
        assert version == "guestbook_0001"
        assert connection.execute("SELECT COUNT(*) FROM guestbook_entries").fetchone() == (0,)

    async def enable(runtime: Podium) -> str:
        from podium.storage import packs as tx

        app_id = await runtime.default_app()
        await runtime.store.run_script(lambda: tx.enable_pack(app_id, "guestbook", [], 0.0))
        return app_id

    app_id = run_api(db, enable)
    listed = podium("packs", "list", "--db", db).stdout.splitlines()
    assert listed[0].split() == [
        "pack",
        "description",
        "flows",
        "handlers",
        "enabled",
        "in",
        "from",
    ]
    [guestbook] = [line for line in listed if line.startswith("guestbook ")]
    assert guestbook.split()[:4] == ["guestbook", "Sign", "a", "guestbook:"]
    assert "guestbook_sign, guestbook_thanks" in guestbook
    assert "greet, moderate" in guestbook
    assert guestbook.endswith(f"{app_id}  {ROOT / 'examples' / 'guestbook'}")


def test_the_worker_runs_the_packs_handlers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODIUM_PACKS", str(ROOT / "examples" / "guestbook"))
    db = tmp_path / "p.db"

    async def sign(runtime: Podium) -> tuple[str, str]:
        from guestbook.entries import add_entry

        from podium.packs.service import PackService
        from podium.sessions.service import SessionService

        app_id = await runtime.default_app()
        sessions = SessionService(runtime)
        await sessions.open()
        await PackService(runtime, sessions).enable(app_id, "guestbook", actor=None)
        entry = await runtime.store.run_script(lambda: add_entry(app_id, "Ada", "hi"))
        data = {"entry_id": entry["id"], "name": "Ada"}
        await runtime.store.append_events(
            app_id, [Event("guestbook.signed", app_id, None, None, data)]
        )
        return app_id, entry["id"]

    app_id, entry_id = run_api(db, sign)
    assert podium("worker", "--until-idle", "--db", db).exit_code == 0
    with sqlite3.connect(db) as connection:
        row = connection.execute(
            "SELECT greeting, handled FROM guestbook_entries WHERE id = ? AND app_id = ?",
            (entry_id, app_id),
        ).fetchone()
    assert row == ("Welcome, Ada!", 1)


def test_unsupported_database_url_is_one_line(tmp_path: Path) -> None:
    result = podium("runs", "list", "--db", "mysql://localhost/podium")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: database URL 'mysql://localhost/podium' is not supported"
    )
    assert result.stderr.count("\n") == 1


def test_unreachable_database_server_is_one_line_without_the_password() -> None:
    result = podium("runs", "list", "--db", "postgresql://ada:s3cret@127.0.0.1:1/podium")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: database postgresql://ada:***@127.0.0.1:1/podium: ")
    assert "s3cret" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_sqlalchemys_errors_count_as_database_errors_once_it_is_loaded() -> None:
    """The CLI does not import SQLAlchemy to name its errors (~0.1 s of every command); once
    the migrations have loaded it, its errors get the same one-line answer as sqlite3's."""
    import sqlalchemy.exc

    from podium.cli import _database_errors

    assert set(_database_errors()) == {sqlite3.Error, sqlalchemy.exc.SQLAlchemyError}


def test_version() -> None:
    result = podium("--version")

    assert result.exit_code == 0
    assert result.stdout == f"podium, version {__version__}\n"


# --- real processes -------------------------------------------------------------------------------


def cli_process(*args: str | Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "podium", *(str(arg) for arg in args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


@pytest.mark.slow
def test_python_m_podium_runs_an_example_and_answers_from_a_pipe(tmp_path: Path) -> None:
    process = cli_process("run", EXAMPLES / "ask.json", "--db", tmp_path / "p.db")
    stdout, stderr = process.communicate("Linus\n", timeout=30)

    assert process.returncode == 0, stderr
    assert stderr == ""
    assert printed_json(stdout, "state") == {"name": "Linus", "greeting": "Hello, Linus!"}


SLOW_NODES = '''
import asyncio
from pathlib import Path


async def nap_once(ctx):
    """Naps for a long time the first time (the test presses Ctrl-C then), not after."""
    marker = Path(ctx.state["marker"])
    if not marker.exists():
        marker.write_text("napping")
        await asyncio.sleep(30)
    return {"napped": True}
'''


@pytest.mark.slow
def test_ctrl_c_exits_130_and_the_run_can_be_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cli_slow_nodes.py").write_text(SLOW_NODES, encoding="utf-8")
    flow = write_flow(
        tmp_path / "slow.json",
        {
            "name": "slow",
            "nodes": [
                {"id": "nap", "type": "python", "config": {"function": "cli_slow_nodes:nap_once"}}
            ],
        },
    )
    db = tmp_path / "p.db"
    marker = tmp_path / "marker"
    process = cli_process(
        "run",
        flow,
        "--input",
        json.dumps({"marker": str(marker)}),
        "--db",
        db,
        PODIUM_LEASE_SECONDS="1",
    )
    assert process.stdout is not None
    lines = [process.stdout.readline(), process.stdout.readline()]
    assert lines[1] == "node nap: running\n"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    (run,) = all_runs(db)

    assert process.returncode == 130
    assert stderr == (
        f"interrupted; run {run.id} is saved and goes on with: "
        f"podium runs resume {run.id} --db {db}\n"
    )
    assert run.status == "queued"  # handed back at once by the stopping worker

    resumed = podium("runs", "resume", run.id, "--db", db)

    assert resumed.exit_code == 0, resumed.output
    assert printed_json(resumed.stdout, "state") == {"marker": str(marker), "napped": True}


@pytest.mark.slow
def test_resume_takes_over_a_run_whose_process_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cli_slow_nodes.py").write_text(SLOW_NODES, encoding="utf-8")
    nap = {"id": "nap", "type": "python", "config": {"function": "cli_slow_nodes:nap_once"}}
    flow = write_flow(tmp_path / "slow.json", {"name": "slow", "nodes": [nap]})
    db = tmp_path / "p.db"
    marker = tmp_path / "marker"
    run_input = json.dumps({"marker": str(marker)})
    process = cli_process("run", flow, "--input", run_input, "--db", db, PODIUM_LEASE_SECONDS="3")
    assert process.stdout is not None
    assert process.stdout.readline().startswith("run ")
    assert process.stdout.readline() == "node nap: running\n"
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:  # the node is napping
        time.sleep(0.01)
    process.kill()  # no chance to hand the run back
    process.communicate(timeout=20)
    (run,) = all_runs(db)
    assert run.status == "running"  # until its lease runs out

    monkeypatch.setenv("PODIUM_LEASE_SECONDS", "1")
    resumed = podium("runs", "resume", run.id, "--db", db)

    assert resumed.exit_code == 0, resumed.output
    assert f"run {run.id} is held by worker " in resumed.stderr
    assert printed_json(resumed.stdout, "state") == {"marker": str(marker), "napped": True}


# --- podium db prune, podium db stats ------------------------------------------------------


def test_db_prune_dry_run_changes_nothing_and_says_what_the_prune_deletes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "p.db"
    flow = ROOT / "src" / "podium" / "flows" / "hello.json"

    async def fill(runtime: Podium) -> list[str]:
        parsed, _ = read_flow_file(flow)
        await runtime.register_flow(parsed, base_path=flow.parent)
        runs = [await runtime.run(parsed.name, {"name": name}) for name in ("Ada", "Grace")]
        return [run.id for run in runs]

    run_ids = run_api(db, fill, workers=1)
    monkeypatch.setenv("PODIUM_RETENTION", '{"runs": {"days": 0}, "events": {"days": 0}}')

    def dump() -> list[str]:
        with sqlite3.connect(db) as connection:
            return list(connection.iterdump())

    before = dump()
    dry = podium("db", "prune", "--dry-run", "--json", "--db", db)
    assert dry.exit_code == 0, dry.output
    assert dump() == before  # not a row changed
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True
    assert report["totals"]["runs"] == 2 and report["totals"]["events"] > 0

    pruned = podium("db", "prune", "--json", "--db", db)
    assert pruned.exit_code == 0, pruned.output
    assert json.loads(pruned.stdout) == {**report, "dry_run": False}
    assert all_runs(db) == []
    rows = "\n".join(dump())
    assert not any(run_id in rows for run_id in run_ids)  # no step, call or event of them

    stats = podium("db", "stats", "--json", "--db", db)
    sizes = json.loads(stats.stdout)
    assert sizes["backend"] == "sqlite" and sizes["tables"]["runs"]["rows"] == 0
    [app] = sizes["apps"].values()
    assert app["events"] == 0 and app["oldest_seq"] == app["last_seq"] + 1
    vacuumed = podium("db", "vacuum", "--db", db)
    assert vacuumed.stdout == f"database sqlite:///{db} vacuumed\n"
    assert json.loads(podium("db", "stats", "--json", "--db", db).stdout)["free_bytes"] == 0
