"""The server skeleton: health, the node-type catalogue, the error envelope, `podium serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from podium.assembly import create_app
from podium.config import Settings


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'api.db'}")
    with TestClient(create_app(settings, workers=0)) as test_client:
        yield test_client


def test_health_says_the_database_answers(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "sqlite"


def test_the_node_type_catalogue_lists_every_built_in_type(client: TestClient) -> None:
    types = {entry["type"]: entry for entry in client.get("/api/v1/node-types").json()}
    assert {"python", "router", "human", "template", "output"} <= set(types)
    assert "function" in types["python"]["config_schema"]["properties"]


def test_an_unknown_route_gets_the_error_envelope(client: TestClient) -> None:
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not Found", "details": {}}
    }


def test_a_wrong_method_gets_the_error_envelope(client: TestClient) -> None:
    response = client.post("/api/v1/health")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_podium_serve_migrates_and_answers(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "served.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "podium", "serve", "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PODIUM_WORKERS": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health") as reply:
                    body = json.load(reply)
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the server did not answer in 30 s"
                time.sleep(0.1)
        assert body["status"] == "ok"
        assert db.exists()  # created and migrated with no other configuration
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json") as reply:
            assert "/api/v1/node-types" in json.load(reply)["paths"]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert f"serving http://127.0.0.1:{port}" in stderr
    assert "Traceback" not in stderr
