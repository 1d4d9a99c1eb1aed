"""`benchmarks/api.py --quick --no-langgraph` runs to its end and prints what
benchmarks/README.md reads, H2 on SQLite with one process and with an API process and a
`podium worker` process on the same file included (every run having succeeded, which the
benchmark checks itself), with the CPU per run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_api_benchmark_prints_h2_for_each_sqlite_layout(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "api.py"), "--quick", "--no-langgraph"]
    command += ["--workdir", str(tmp_path)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))

    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"H1", "H2", "H3", "H4", "RSS"} <= {line["workload"] for line in lines}
    h2 = [line for line in lines if line["workload"] == "H2"]
    assert [line["layout"] for line in h2] == [
        "sqlite, serve (1 process)",
        "sqlite, serve --processes 1 --workers 0 + 1 x podium worker (16 slots)",
    ]
    for line in h2:
        assert line["podium"] > 0 and line["n"] == 10, line
        assert line["podium_server_cpu_ms_per_run"] > 0, line
        assert line["langgraph"] is None and line["met"] is None


def test_a_sqlite_layout_with_several_api_processes_is_refused() -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "api.py"), "--sqlite-layout", "2+1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--sqlite-layout 2+1: SQLite takes one API process + W >= 1 workers" in done.stderr
