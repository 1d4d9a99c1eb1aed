"""The embedded runtime's waits: every waiter of a run is woken by its outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tests.conftest import fast_settings

from podium import FlowBuilder, Podium
from support import nodes


@pytest.fixture
async def slow_polling(database_url: str) -> AsyncIterator[Podium]:
    # Polling every 60 s: a wait that is not woken by the run's outcome event would hang.
    settings = fast_settings(poll_seconds=60.0)
    async with Podium.open(database_url, settings=settings, migrate=False) as runtime:
        yield runtime


async def test_a_wait_that_gives_up_does_not_deafen_another_wait_of_the_same_run(
    slow_polling: Podium,
) -> None:
    flow = (
        FlowBuilder("slow")
        .python("nap", nodes.slow_visit)  # 0.2 s
        .output("out")
        .chain("nap", "out")
        .build()
    )
    handle = await slow_polling.start(flow, {})
    patient = asyncio.create_task(slow_polling.wait(handle.run_id))
    impatient = await slow_polling.wait(handle.run_id, timeout=0.05)
    assert impatient.status in ("queued", "running")
    run = await asyncio.wait_for(patient, timeout=20)
    assert run.status == "succeeded"
