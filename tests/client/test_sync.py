"""`podium/client/sync.py` is what scripts/generate_sync_client.py makes of aio.py: the sync
client is the async one without `async`, never a copy edited by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "src" / "podium" / "client"


def load_generator() -> object:
    spec = importlib.util.spec_from_file_location(
        "generate_sync_client", ROOT / "scripts" / "generate_sync_client.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sync_py_is_generated_from_aio_py() -> None:
    generator = load_generator()
    expected = generator.render((CLIENT / "aio.py").read_text())  # type: ignore[attr-defined]
    assert (CLIENT / "sync.py").read_text() == expected, (
        "src/podium/client/sync.py is stale: run .venv/bin/python scripts/generate_sync_client.py"
    )


def test_the_generator_rewrites_async_code_into_sync_code() -> None:
    generator = load_generator()
    source = (
        '"""doc"""\n\nimport asyncio\n\n\nclass AsyncClient:\n'
        "    async def items(self) -> AsyncIterator[int]:\n"
        "        async with self._lock:\n            await asyncio.sleep(1)\n"
        "        for item in await self.page():\n            yield item\n"
    )
    out = generator.generate(source)  # type: ignore[attr-defined]
    assert "async" not in out.split('"""', 2)[2] and "await" not in out
    assert "class Client:" in out and "def items(self) -> Iterator[int]:" in out
    assert "with self._lock:" in out and "time.sleep(1)" in out and "import threading" in out
    assert "yield from self.page()" in out
