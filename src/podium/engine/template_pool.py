"""Render processes: templates that are not cheap by construction render in a child process
that is killed when it passes the time budget (a thread cannot be stopped; a process can).

The children run `templating.py` in isolated mode with an empty environment (they see
neither the server's settings nor its secrets) and a memory limit; they are started on first
use and reused, and a killed one is replaced on the next request.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from podium.engine import templating

PROGRAM = Path(templating.__file__).resolve()
# Address space a render process may add to what it uses when idle (MemoryError past it).
MEMORY_HEADROOM_BYTES = 512 * 1024 * 1024
# A child that ignores its own alarm (stuck in one long C call) is killed this much later.
KILL_GRACE_SECONDS = 0.5
NICENESS = 10
# How long a new render process may take to start (an interpreter and Jinja).
START_SECONDS = 20.0


class RenderFailed(Exception):
    """A render process's answer that is not text: `kind` is time, output, memory,
    recursion or template."""

    def __init__(self, kind: str, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.error_type = error_type  # the template's own error: its exception's name


class _Child:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-X",
                "utf8",
                "-c",
                f"exec(compile(open({str(PROGRAM)!r}).read(), {str(PROGRAM)!r}, 'exec'))",
                str(MEMORY_HEADROOM_BYTES),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={},
            text=True,
        )
        # A template at work yields the CPU to the server; set here rather than in the child
        # so that its start (an interpreter, Jinja) already runs at the lower priority.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self.process.pid, NICENESS)
        self._answer: queue.SimpleQueue[str] = queue.SimpleQueue()
        # Lines are read by a thread so that a wait can time out (a pipe read cannot).
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            started = self._answer.get(timeout=START_SECONDS)
        except queue.Empty:
            started = ""
        if not started:
            self.kill()
            raise RenderFailed("start", "a render process did not start")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._answer.put(line)
        self._answer.put("")  # the child ended

    def ask(self, request: dict[str, Any], wait_seconds: float) -> dict[str, Any] | None:
        """The child's answer, or None when it did not answer in time (it is then killed)."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self._answer.get(timeout=wait_seconds)
        except (OSError, queue.Empty):
            self.kill()
            return None
        if not line:
            self.kill()
            return None
        answer: dict[str, Any] = json.loads(line)
        return answer

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class RenderPool:
    """At most `size` render processes; a render waits for a free one."""

    def __init__(self, size: int) -> None:
        self._idle: queue.LifoQueue[_Child | None] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(None)  # a slot whose process starts on first use

    def render(self, source: str, context: dict[str, Any], timeout: float, max_chars: int) -> str:
        """The rendered text; RenderFailed when over a budget or when the template fails."""
        child = self._idle.get()
        try:
            if child is None or not child.alive:
                child = None
                child = _Child()
            request = {
                "source": source,
                "context": context,
                "max_chars": max_chars,
                "timeout": timeout,
            }
            answer = child.ask(request, timeout + KILL_GRACE_SECONDS)
        finally:
            self._idle.put(child)
        if answer is None:
            raise RenderFailed("time", "the render process was stopped")
        if "text" in answer:
            return str(answer["text"])
        raise RenderFailed(
            str(answer["error"]), str(answer["message"]), str(answer.get("type", ""))
        )

    def close(self) -> None:
        """Stop every render process (they also end with the server: their stdin closes)."""
        children = []
        while True:
            try:
                children.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for child in children:
            if child is not None and child.alive:
                child.kill()
            self._idle.put(None)
