"""A session's run on a server followed from the terminal (`podium sessions start`,
`podium sessions answer --follow`): the live board of `podium run` fed by the run's event
stream, its questions asked at the terminal and answered on the server."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from podium.cli_display import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_WAITING,
    STOPPED_EVENTS,
    NoAnswer,
    NodeBoard,
    ask_question,
    format_seconds,
    make_console,
    one_line,
    plural,
    print_json,
)
from podium.client import APIError, Client
from podium.client.models import EventPublic, Question, RunPublic
from podium.events.envelope import Event
from podium.storage.records import InterruptRecord

RUN_ENDED = frozenset({"run.succeeded", "run.failed", "run.cancelled"})

out = make_console()
err = make_console(stderr=True)


def as_event(event: EventPublic) -> Event:
    return Event(
        type=event.type,
        app_id=event.app_id,
        session_id=event.session_id,
        run_id=event.run_id,
        data=event.data,
        seq=event.seq,
        ts=event.ts,
    )


def as_interrupt(question: Question, session_id: str) -> InterruptRecord:
    """The server's question as the record `ask_question` reads."""
    return InterruptRecord(
        id=question.interrupt_id,
        app_id="",
        run_id=question.run_id,
        session_id=session_id,
        node_id=question.node_id,
        iteration=0,
        call_key="",
        question=question.question,
        choices=question.choices,
        schema=question.schema_,
        status="pending",
        answer=None,
        created_at=0.0,
        answered_at=None,
        kind=question.kind,
        artifact_id=question.artifact_id,
    )


@dataclass
class RemoteRun:
    """A run on the server followed to its end: the live board of its nodes from its event
    stream (which resumes by itself after a dropped connection), its questions asked at the
    terminal and answered on the server."""

    client: Client
    app_id: str
    session_id: str
    run_id: str
    since: int = 0

    def follow(self) -> int:
        run = self.client.get_run(self.app_id, self.run_id, limit=1)
        flows = {f.id: f for f in self.client.list_flows(self.app_id)}
        flow = flows.get(run.flow_id)
        label = f"flow {flow.name!r} v{flow.version}" if flow else f"flow {run.flow_id}"
        board = NodeBoard.for_flow(out, run.id, label, flow.definition if flow else {})
        try:
            while True:
                stopped = self._watch(board)
                run = self.client.get_run(self.app_id, self.run_id, limit=1)
                if stopped in RUN_ENDED or run.status in ("succeeded", "failed", "cancelled"):
                    return self._finish(board, run)
                if run.status == "paused":
                    board.stop_running()
                    err.print(f"run {run.id} is paused on the server", markup=False)
                    return EXIT_WAITING
                for question in run.pending_questions or []:
                    answer = ask_question(as_interrupt(question, self.session_id), out)
                    with contextlib.suppress(APIError):  # answered elsewhere meanwhile
                        self.client.answer(
                            self.app_id, self.session_id, question.interrupt_id, answer
                        )
        except NoAnswer:
            err.print(
                f"session {self.session_id} is waiting for an answer; answer it later with: "
                f"podium sessions answer {self.session_id} ANSWER",
                markup=False,
            )
            return EXIT_WAITING
        except KeyboardInterrupt:
            err.print(
                f"interrupted; session {self.session_id} goes on on the server: "
                f"podium events tail --session {self.session_id}",
                markup=False,
            )
            return EXIT_INTERRUPTED

    def _watch(self, board: NodeBoard) -> str:
        """Show the run's events until it ends or stops for a question or a pause; the type
        of the event it stopped at."""
        with board.showing():
            events = self.client.stream_events(self.app_id, since=self.since, run_id=self.run_id)
            try:
                for event in events:
                    board.apply(as_event(event))
                    if event.seq is not None:
                        self.since = event.seq
                    stopped = event.type in STOPPED_EVENTS and self._stopped()
                    if event.type in RUN_ENDED or stopped:
                        return event.type
            finally:
                events.close()  # type: ignore[attr-defined]
        return ""

    def _stopped(self) -> bool:
        """Whether the run still waits (an interrupt may be answered already, elsewhere)."""
        run = self.client.get_run(self.app_id, self.run_id, limit=1)
        return run.status not in ("queued", "running", "pausing")

    def _finish(self, board: NodeBoard, run: RunPublic) -> int:
        board.stop_running()
        took = ""
        if run.started_at and run.ended_at:
            took = f" in {format_seconds(run.ended_at - run.started_at)}"
        steps = plural(run.steps_count, "step")
        session = self.client.get_session(self.app_id, self.session_id)
        if run.status == "succeeded":
            out.print(f"run {run.id} succeeded{took} ({steps})", markup=False)
        out.print("state:")
        print_json(out, session.state)
        if run.output:
            out.print("output:")
            print_json(out, run.output)
        if run.status == "succeeded":
            return 0
        if run.status == "cancelled":
            err.print(f"error: run {run.id} was cancelled", markup=False)
        else:
            err.print(
                f"error: run {run.id} failed{took}: {one_line(run.error or '')}", markup=False
            )
        return EXIT_FAILED
