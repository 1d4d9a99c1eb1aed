"""schemathesis against a live `podium serve`: every operation of /openapi.json, fuzzed.

Checks: no 5xx (`not_a_server_error`), every status declared (`status_code_conformance`),
every body matching its declared schema and content type (`response_schema_conformance`,
`content_type_conformance`), and invalid requests refused (`negative_data_rejection`).

Path ids are drawn from real objects most of the time (schemathesis dictionaries bound to
`path.app_id`, `path.session_id`, …) and random otherwise, so both the routes' logic and their
404 envelope are exercised. Three passes:

1. everything but the two deletions that would remove the fixtures (`DELETE /users/{user_id}`
   could delete the admin we test as, `DELETE /apps/{app_id}` the app), as the admin (bearer);
2. the app's routes again, as an API key of the app (`X-API-Key`);
3. those two deletions last, pointed at users and apps made for them.

`/api/v1/ws` is not in the OpenAPI (a WebSocket), so nothing needs excluding for it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import BIN, LiveServer, ask_flow, create_admin, login, server_env
from tests.packs.conftest import shipped_pack_specs

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)
MAX_EXAMPLES = 20
DESTRUCTIVE = ("/api/v1/users/{user_id}", "/api/v1/apps/{app_id}")


def toml_value(value: Any) -> str:
    """A TOML value for JSON-like data (strings, numbers, lists, inline tables)."""
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def write_config(
    path: Path,
    dictionaries: dict[str, list[str]],
    bindings: dict[str, str],
    operations: list[dict[str, Any]] | None = None,
) -> Path:
    """A schemathesis.toml: `bindings` maps `path.<param>` to a dictionary's name."""
    lines = [
        f"[dictionaries.{name}]\nvalues = {toml_value(values)}\n"
        for name, values in dictionaries.items()
    ]
    lines.append("[parameters]")
    for key, name in bindings.items():
        lines.append(f"{json.dumps(key)} = {toml_value({'dictionary': name, 'probability': 0.7})}")
    for operation in operations or []:
        lines.append("\n[[operations]]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in operation.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def schemathesis(
    server: LiveServer, config: Path, headers: dict[str, str], *filters: str
) -> tuple[int, str]:
    """`schemathesis run` against the server's /openapi.json; (exit status, report)."""
    command = [str(BIN / "schemathesis"), "--config-file", str(config), "run"]
    command += [f"{server.origin}/openapi.json", "--checks", CHECKS]
    command += ["--max-examples", str(MAX_EXAMPLES), "--phases", "coverage,fuzzing"]
    command += ["--seed", "20260101", "--generation-database", "none", "--no-color"]
    command += ["--request-timeout", "20", "--workers", "1"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command += filters
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=config.parent, timeout=120, check=False
    )
    return done.returncode, done.stdout + done.stderr


def fixtures(server: LiveServer, token: str) -> dict[str, Any]:
    """Real objects for the path parameters: an app with a flow, a session waiting for an
    answer, an artifact, a member, an API key; plus users and apps that pass 3 may delete."""
    call = server.call
    app = call("POST", "/apps", {"name": "fuzzed", "description": "schemathesis"}, token)["id"]
    call("POST", f"/apps/{app}/flows", ask_flow(), token)
    session = call("POST", f"/apps/{app}/sessions", {"flow": "ask", "input": {}}, token)
    call("GET", f"/apps/{app}/runs/{session['run_id']}/wait?timeout=20", None, token)
    member = call(
        "POST",
        "/users",
        {"email": "member@example.com", "username": "member", "password": "member-password"},
        token,
    )
    call("POST", f"/apps/{app}/members", {"user": member["id"], "role": "member"}, token)
    auth_key = call("POST", f"/apps/{app}/api-keys", {"name": "fuzzer", "role": "admin"}, token)
    spare_key = call("POST", f"/apps/{app}/api-keys", {"name": "spare"}, token)
    victims = [
        call(
            "POST",
            "/users",
            {
                "email": f"victim{i}@example.com",
                "username": f"victim{i}",
                "password": "violet tractor harbor",
            },
            token,
        )["id"]
        for i in range(2)
    ]
    # The shipped leads pack, enabled, with a lead to read and analyze.
    call("PUT", f"/apps/{app}/packs/leads", None, token)
    lead = call(
        "POST",
        f"/apps/{app}/packs/leads/leads",
        {"name": "Ada", "email": "ada@example.com", "message": "A shop", "service": "ecommerce"},
        token,
    )
    # The shipped orchestrator pack, enabled, with a thread waiting for an answer.
    call("PUT", f"/apps/{app}/packs/orchestrator", None, token)
    thread = call("POST", f"/apps/{app}/orchestrator/chat", {"prompt": "help me"}, token)
    # The shipped storyflow pack, enabled, with a character and a component of the app's own.
    call("PUT", f"/apps/{app}/packs/storyflow", None, token)
    character = call("POST", f"/apps/{app}/packs/storyflow/characters", {"name": "Mira"}, token)
    component = call(
        "POST",
        f"/apps/{app}/packs/storyflow/components",
        {"id": "mine", "node_type": "template", "name": "Mine"},
        token,
    )
    artifact = call(
        "POST",
        f"/apps/{app}/artifacts",
        {"type": "Tracker", "initial_state": {"n": 0}, "session_id": session["id"]},
        token,
    )
    document = {"key": "intro.md", "text": "Refunds are paid in 14 days.", "metadata": {"n": 1}}
    call("POST", f"/apps/{app}/knowledge/kb/documents", {"documents": [document]}, token)
    doomed = [call("POST", "/apps", {"name": f"doomed{i}"}, token)["id"] for i in range(2)]
    # Pass 3 runs as an admin of its own, in case it deletes the user it runs as.
    reaper = {"email": "reaper@example.com", "username": "reaper", "password": "reaper-password"}
    call("POST", "/users", {**reaper, "is_admin": True}, token)
    reaper_token = login(server, "reaper", reaper["password"])
    return {
        "apps": [app],
        "sessions": [session["id"]],
        "runs": [session["run_id"]],
        "flows": ["ask"],
        "members": [member["id"]],
        "keys": [spare_key["id"]],
        "artifacts": [artifact["id"]],
        "leads": [lead["id"]],
        "namespaces": ["kb"],
        "documents": ["intro.md"],
        "threads": [thread["thread_id"]],
        "characters": [character["id"]],
        "components": [component["id"], "storyTeller"],
        "key": auth_key["key"],
        "victims": victims,
        "doomed": doomed,
        "reaper_token": reaper_token,
    }


BINDINGS = {
    "path.app_id": "apps",
    "path.session_id": "sessions",
    "path.run_id": "runs",
    "path.name": "flows",
    "path.user_id": "members",
    "path.key_id": "keys",
    "path.artifact_id": "artifacts",
    "path.lead_id": "leads",
    "path.namespace": "namespaces",
    "path.key": "documents",  # a knowledge document's key (a valid memory key too)
    "path.thread_id": "threads",
    "path.character_id": "characters",
    "path.component_id": "components",
}
# `wait` on a real run queued behind the waiting one holds for its whole `timeout` (30 s by
# default, up to 300): correct, but too slow for a fuzzer. So does creating a session with
# `wait` when its run is queued behind another one of the app's.
SHORT_WAIT = {
    "include-path": "/api/v1/apps/{app_id}/runs/{run_id}/wait",
    "parameters": {"query.timeout": 1},
}
SHORT_SESSION_WAIT = {
    "include-path": "/api/v1/apps/{app_id}/sessions",
    "include-method": "POST",
    "parameters": {"query.wait": 1},
}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_schemathesis_finds_no_failure_on_a_live_server(tmp_path: Path) -> None:
    db = tmp_path / "podium.db"
    env = server_env(PODIUM_PACKS=",".join(shipped_pack_specs()))
    create_admin(db, env)
    server = LiveServer(db, env).start()
    try:
        token = login(server)
        objects = fixtures(server, token)
        names = (
            *("apps", "sessions", "runs", "flows", "members", "keys", "artifacts", "leads"),
            *("namespaces", "documents", "threads", "characters", "components"),
        )
        dictionaries = {name: objects[name] for name in names}
        config = write_config(
            tmp_path / "schemathesis.toml", dictionaries, BINDINGS, [SHORT_WAIT, SHORT_SESSION_WAIT]
        )
        as_admin = {"Authorization": f"Bearer {token}"}
        as_key = {"X-API-Key": objects["key"]}
        doom = write_config(
            tmp_path / "destructive.toml",
            {"apps": objects["doomed"], "users": objects["victims"]},
            {"path.app_id": "apps", "path.user_id": "users"},
        )
        passes = [
            ("as the admin", config, as_admin, [f"--exclude-path={p}" for p in DESTRUCTIVE]),
            ("as an API key", config, as_key, ["--include-path-regex=^/api/v1/apps/[{]app_id[}]/"]),
            (
                "deletions",
                doom,
                # schemathesis seeds ids from the claims of an `Authorization: Bearer` JWT
                # (its `sub` is the caller's user id) and would start by deleting the caller;
                # the scheme is case-insensitive, and it only looks for "Bearer ".
                {"Authorization": f"bearer {objects['reaper_token']}"},
                [f"--include-path={p}" for p in DESTRUCTIVE]
                + ["--exclude-method=GET", "--exclude-method=PATCH"],
            ),
        ]
        reports = []
        for name, config_file, headers, filters in passes:
            rc, report = schemathesis(server, config_file, headers, *filters)
            # The admin and the app outlived the pass (else the next one tests 401s only).
            alive = (
                server.request("GET", "/auth/me", None, token)[0],
                server.request("GET", f"/apps/{objects['apps'][0]}", None, token)[0],
            )
            reports.append((name, rc, report, alive))
        targets = [f"/users/{u}" for u in objects["victims"]]
        targets += [f"/apps/{a}" for a in objects["doomed"]]
        gone = [t for t in targets if server.request("GET", t, None, token)[0] == 404]
    finally:
        server.stop()
    for name, rc, report, alive in reports:
        print(f"\n===== schemathesis {name}: exit {rc}, admin and app after it: {alive} =====")
        print(report)
    failed = [f"{name} (exit {rc})" for name, rc, _, _ in reports if rc != 0]
    assert not failed, f"schemathesis found failures: {', '.join(failed)} (report above)"
    for name, _, report, alive in reports:
        assert alive == (200, 200), f"{name}: the admin or the app did not survive it"
        assert " passed" in report and " 0 generated" not in report, name
    assert gone, "pass 3 deleted none of the users and apps made for it"
    assert "Traceback" not in server.output(), server.output()
