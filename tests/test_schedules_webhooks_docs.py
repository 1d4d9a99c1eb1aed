"""docs/schedules.md and docs/webhooks.md run as printed: each one's ```` ```sh ```` blocks
run in order, in one bash,
in an empty directory (with `examples/`), the `podium` command on the PATH, against a live
`podium serve` where `$APP` is a tenant's app; each prints the ```` ```text ```` block
that follows it (`…` stands for ids and times)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import ROOT
from tests.packs.test_docs import DOCUMENTED_ORIGIN, MARKER, matches, runnable_blocks
from tests.security.conftest import (  # noqa: F401  (fixtures)
    Tenant,
    admin_token,
    live,
    live_env,
    make_tenant,
)

DOCUMENTS = {"schedules.md": 7, "webhooks.md": 3}  # and how many examples each has at least


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_document_has_examples_with_their_output(name: str) -> None:
    blocks = runnable_blocks((ROOT / "docs" / name).read_text())
    assert len(blocks) >= DOCUMENTS[name] and all(b.expected is not None for b in blocks)


@pytest.mark.slow
@pytest.mark.timeout(300)  # eight `podium` commands, each a new process
@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_the_examples_print_what_the_document_shows(
    name: str,
    make_tenant: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    tenant: Tenant = make_tenant("docs")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    blocks = runnable_blocks((ROOT / "docs" / name).read_text())
    origin = tenant.server.origin
    script = "set -euo pipefail\n" + "".join(
        f"echo {MARKER}\n{block.code.replace(DOCUMENTED_ORIGIN, origin)}\n" for block in blocks
    )
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "TOKEN": tenant.token,
        "APP": tenant.app_id,
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"docs/{name} failed:\n{done.stdout}\n{done.stderr}"
    printed = done.stdout.split(MARKER + "\n")[1:]
    assert len(printed) == len(blocks)
    for block, output in zip(blocks, printed, strict=True):
        assert block.expected is not None
        assert matches(block.expected, output), (
            f"docs/{name}: this block\n{block.code}\nprinted\n{output}\n"
            f"but the document shows\n{block.expected}"
        )
