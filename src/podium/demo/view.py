"""What `podium demo` shows: the app's events as they stream over SSE, one line each, and
the steps the demo takes between them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console
from rich.status import Status
from rich.text import Text

from podium.events import names

# Noise for a person watching: the queue's bookkeeping, tokens, live node starts.
HIDDEN = frozenset({names.RUN_QUEUED, names.MESSAGE_DELTA, names.NODE_STARTED, names.AGENT_STATUS})
STYLES = {
    names.RUN_SUCCEEDED: "bold green",
    names.RUN_FAILED: "bold red",
    names.NODE_FAILED: "red",
    names.RUN_STARTED: "cyan",
    names.ARTIFACT_CREATED: "magenta",
    names.ARTIFACT_STATE_UPDATED: "magenta",
}
BAR_WIDTH = 20
SHOWN_CHARS = 72


class DemoView:
    """Lines on the terminal, each stamped with the seconds since the demo began."""

    def __init__(self, console: Console, began: float) -> None:
        self.console = console
        self.began = began
        self.flows: dict[str, str] = {}  # flow id → name
        self.runs: dict[str, str] = {}  # run id → flow name
        self.sessions: dict[str, str] = {}  # session id → flow name
        self.status: Status | None = None  # the spinner's line, saying what the demo awaits

    def stamp(self) -> str:
        return f"{time.perf_counter() - self.began:6.2f}s"

    def title(self, text: str) -> None:
        self.console.print()
        self.console.print(Text(text, style="bold"))

    def step(self, text: str) -> None:
        """Something the demo does (a request), between the events it causes."""
        self.console.print(Text.assemble((f"{self.stamp()}  ", "dim"), ("▶ ", "bold"), text))
        self.waiting(text.split("  ")[0])

    def waiting(self, what: str) -> None:
        if self.status is not None:
            self.status.update(what + " …")

    def note(self, text: str) -> None:
        self.console.print(Text(text, style="dim"))

    def event(self, event: dict[str, Any]) -> None:
        kind, data = event["type"], event.get("data") or {}
        run_id, session_id = event.get("run_id") or "", event.get("session_id") or ""
        flow = self.flows.get(data.get("flow_id", ""), "")
        if flow and kind == names.RUN_QUEUED:
            self.runs[run_id] = flow
        if flow and kind == names.SESSION_CREATED:
            self.sessions[session_id] = flow
        if kind in HIDDEN:
            return
        if kind == names.SESSION_CREATED:
            data = {"session_id": session_id}
        flow = flow or self.runs.get(run_id) or self.sessions.get(session_id, "")
        line = Text.assemble(
            (f"{self.stamp()}  ", "dim"),
            (f"{kind:<23}", STYLES.get(kind, "")),
            (f"{flow:<17}", "blue") if flow else ("", ""),
        )
        line.append(describe(kind, data))
        self.console.print(line)


def describe(kind: str, data: dict[str, Any]) -> str:
    """A short account of an event's data."""
    if kind in (names.NODE_COMPLETED, names.NODE_FAILED, names.NODE_SKIPPED):
        return str(data.get("node_id", "")) + (f": {data['error']}" if data.get("error") else "")
    if kind == names.ARTIFACT_CREATED:
        return f"{data.get('type', '')} {data.get('artifact_id', '')}"
    if kind == names.ARTIFACT_STATE_UPDATED:
        return describe_patch(data.get("patch") or {})
    if kind == names.RUN_SUCCEEDED:
        output = data.get("output")
        return clip(summary(output)) if isinstance(output, dict) else ""
    if kind == names.RUN_FAILED:
        return clip(str(data.get("error", "")))
    if kind == names.MESSAGE_CREATED:
        who = data.get("agent") or data.get("role") or ""
        return clip(f"{who}: {' '.join(str(data.get('content', '')).split())}")
    return clip(summary(data))


def describe_patch(patch: dict[str, Any]) -> str:
    progress = patch.get("build_progress", patch.get("progress"))
    if isinstance(progress, int | float) and not isinstance(progress, bool):
        filled = round(BAR_WIDTH * min(max(progress, 0), 100) / 100)
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        stage = patch.get("current_stage")
        return f"{bar} {progress:g}%" + (f"  {stage}" if stage else "")
    return clip(summary(patch))


def summary(data: dict[str, Any]) -> str:
    """`key=value` for the scalar values, `key=[n]` / `key={…}` for the others."""
    parts = []
    for key, value in data.items():
        if isinstance(value, list):
            parts.append(f"{key}=[{len(value)}]")
        elif isinstance(value, dict):
            parts.append(f"{key}={{…}}")
        else:
            parts.append(f"{key}={json.dumps(value, ensure_ascii=False)}")
    return " ".join(parts)


def clip(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


class EventStream:
    """The app's events over SSE (`GET /apps/{app}/events`, `Accept: text/event-stream`),
    from the start of its log: each is shown as it arrives and kept for `wait_for`."""

    def __init__(self, client: httpx.AsyncClient, app_id: str, view: DemoView) -> None:
        self.client = client
        self.app_id = app_id
        self.view = view
        self.seen: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    async def open(self) -> None:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._ready.wait(), 10)
        if self._failure is not None:
            raise self._failure

    async def _read(self) -> None:
        headers = {"Accept": "text/event-stream"}
        try:
            async with self.client.stream(
                "GET", f"/apps/{self.app_id}/events", headers=headers, timeout=None
            ) as reply:
                reply.raise_for_status()
                self._ready.set()
                data: list[str] = []
                async for line in reply.aiter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        self._arrive(json.loads("\n".join(data)))
                        data = []
        except (httpx.HTTPError, ValueError) as exc:
            self._failure = exc
        finally:
            self._ready.set()
            self._arrived.set()

    def _arrive(self, event: dict[str, Any]) -> None:
        if "type" not in event:  # the stream's `error` event: access was withdrawn
            raise ValueError(f"the event stream ended: {event}")
        self.seen.append(event)
        self.view.event(event)
        self._arrived.set()

    async def wait_for(
        self, wanted: Callable[[dict[str, Any]], bool], what: str, timeout: float
    ) -> dict[str, Any]:
        """The first event (seen already or to come) for which `wanted` holds."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            for event in self.seen[checked:]:
                if wanted(event):
                    return event
            checked = len(self.seen)
            if self._task is not None and self._task.done():
                raise RuntimeError(f"the event stream ended before {what}: {self._failure}")
            self._arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {what} within {timeout:g} s")
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                continue

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
