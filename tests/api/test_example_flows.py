"""Every example flow of examples/flows registers over HTTP once the server may import
example_nodes; when it may not, the message names the setting and PYTHONPATH."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from tests.api.conftest import Actor, api_settings, login
from tests.api.live import ROOT, LiveServer, create_admin, server_env
from tests.api.live import login as live_login
from tests.api.test_auth import assert_error

from podium.assembly import create_app
from podium.config import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"
PYTHON_FLOWS = ("chain", "fanout", "loop")


def example(name: str) -> dict[str, Any]:
    [path] = [p for p in EXAMPLES.glob(f"{name}.*") if p.suffix in (".json", ".yaml")]
    text = path.read_text()
    value = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    assert isinstance(value, dict)
    return value


def owner_of_an_app(client: TestClient) -> tuple[Actor, str]:
    client.portal.call(  # type: ignore[union-attr]
        client.app.state.services.auth.create_user,  # type: ignore[attr-defined]
        "root@example.com",
        "root",
        "correct horse battery",
    )
    owner = login(client, "root")
    return owner, owner.create_app("examples")


def test_python_example_flows_need_the_setting_and_the_message_says_so(api: TestClient) -> None:
    owner, app = owner_of_an_app(api)
    for name in PYTHON_FLOWS:
        error = assert_error(
            owner.post(f"/api/v1/apps/{app}/flows", example(name)), 422, "flow_invalid"
        )
        assert "module 'example_nodes' is not allowed" in error["message"]
        assert "PODIUM_API_PYTHON_MODULES" in error["message"]
        assert "PYTHONPATH=examples/flows" in error["message"]
        assert "podium serve --dev" in error["message"]


@pytest.fixture
def allowed(database_url: str) -> Settings:
    return api_settings(database_url, api_python_modules=["example_nodes"])


def test_an_allowed_module_the_server_cannot_import_names_pythonpath(
    allowed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Other tests run the examples from their files, which puts their folder on sys.path.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p) != EXAMPLES])
    monkeypatch.delitem(sys.modules, "example_nodes", raising=False)
    with TestClient(create_app(allowed, workers=0)) as client:
        owner, app = owner_of_an_app(client)
        error = assert_error(
            owner.post(f"/api/v1/apps/{app}/flows", example("chain")), 422, "flow_invalid"
        )
        assert "cannot import 'example_nodes:normalize'" in error["message"]
        assert (
            "the server imports the modules of python nodes from its PYTHONPATH"
            in (error["message"])
        )
        assert "PYTHONPATH=examples/flows" in error["details"]["problems"][0]


def test_every_example_flow_registers_with_the_documented_settings(
    allowed: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))  # PYTHONPATH=examples/flows
    with TestClient(create_app(allowed, workers=0)) as client:
        owner, app = owner_of_an_app(client)
        names = sorted(p.stem for p in EXAMPLES.iterdir() if p.suffix in (".json", ".yaml"))
        assert names == ["ask", "chain", "fanout", "loop", "router"]
        for name in names:
            response = owner.post(f"/api/v1/apps/{app}/flows", example(name))
            assert response.status_code == 201, response.text


@pytest.mark.slow
def test_the_examples_readme_registers_them_over_http_as_documented(tmp_path: Path) -> None:
    """examples/flows/README.md's "Over HTTP": the server started with the documented
    settings, then its curl commands, as written (from the repository root)."""
    text = (EXAMPLES / "README.md").read_text()
    section = text.split("## Over HTTP", 1)[1]
    blocks = re.findall(r"^```sh\n(.*?)^```$", section, re.S | re.M)
    assert len(blocks) == 2, blocks
    settings = dict(re.findall(r"(PYTHONPATH|PODIUM_API_PYTHON_MODULES)=(\S+)", blocks[0]))
    assert settings == {
        "PYTHONPATH": "examples/flows",
        "PODIUM_API_PYTHON_MODULES": "example_nodes",
    }
    assert blocks[0].strip().endswith("make serve")
    paths = [str(ROOT / settings["PYTHONPATH"]), *os.environ.get("PYTHONPATH", "").split(":")]
    env = server_env(
        PYTHONPATH=":".join(p for p in paths if p),
        PODIUM_API_PYTHON_MODULES=settings["PODIUM_API_PYTHON_MODULES"],
    )
    create_admin(tmp_path / "podium.db", env)
    server = LiveServer(tmp_path / "podium.db", env).start()
    try:
        token = live_login(server)
        app = server.call("POST", "/apps", {"name": "examples"}, token)["id"]
        shell = {**env, "TOKEN": token, "APP": app}
        commands = blocks[1].replace("http://127.0.0.1:8000", server.origin)
        done = subprocess.run(
            ["bash", "-c", commands],
            cwd=ROOT,
            env=shell,
            capture_output=True,
            text=True,
            timeout=60,
        )
        answers, rest, decoder = [], done.stdout.strip(), json.JSONDecoder()
        while rest:  # the curls' answers, one after the other
            answer, end = decoder.raw_decode(rest)
            answers.append(answer)
            rest = rest[end:].strip()
        assert [a.get("name") for a in answers] == ["chain", "loop"], done.stdout + done.stderr
        session = server.call(
            "POST", f"/apps/{app}/sessions", {"flow": "loop", "input": {"topic": "x"}}, token
        )
        run = server.call(
            "GET", f"/apps/{app}/runs/{session['run_id']}/wait?timeout=20", None, token
        )
        assert run["status"] == "succeeded", run
    finally:
        server.stop()
