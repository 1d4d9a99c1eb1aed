"""Waiting for a wake-up with a deadline, without losing a cancellation."""

import asyncio
import contextlib


async def wait_for_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass; returns whether it was set.

    `asyncio.timeout` rather than `asyncio.wait_for`: on Python 3.11 `wait_for` can swallow a
    cancellation that arrives as the event is set, and a worker being stopped would spin on.
    """
    if event.is_set():
        return True
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(seconds, 0)):
            await event.wait()
    return event.is_set()
