"""`benchmarks/engine.py --quick --workload W5` runs to its end on PostgreSQL and prints what
benchmarks/README.md reads: per number of `podium worker` processes, runs/s and node-steps/s
(every run having succeeded, which the benchmark checks itself) and the CPU per run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("PODIUM_TEST_DATABASE_URL")


@pytest.mark.slow
@pytest.mark.skipif(not POSTGRES_URL, reason="W5 needs PostgreSQL (scripts/with-postgres)")
def test_quick_w5_prints_every_figure(tmp_path: Path) -> None:
    assert POSTGRES_URL
    command = [sys.executable, str(ROOT / "benchmarks" / "engine.py"), "--quick"]
    command += ["--workload", "W5", "--no-langgraph", "--pg", POSTGRES_URL]
    command += ["--workdir", str(tmp_path)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))

    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)

    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(x["workload"], x["metric"], x["worker_processes"]) for x in lines] == [
        ("W5", metric, processes)
        for processes in (1, 2)
        for metric in ("runs_per_s", "node_steps_per_s")
    ]
    for line in lines:
        assert line["podium"] > 0 and line["runs"] == 40, line
        assert line["worker_cpu_ms_per_run"] > 0 and line["client_cpu_ms_per_run"] > 0, line
        assert line["langgraph"] is None
    steps, runs = lines[1]["podium"], lines[0]["podium"]
    assert steps == pytest.approx(runs * 10, rel=0.01)
