"""The orchestrator's conversations (threads): start one, answer its question, read its
status. A thread is a session of the `orchestrator` flow; its id is the session's id.

`chat` and `answer` wait for the run to finish or to ask (at most
`PODIUM_ORCHESTRATOR_WAIT_SECONDS`); when the wait ends first the answer is `running` and
the run goes on (read it later with `status`).
"""

from __future__ import annotations

from typing import Any

from podium.errors import Conflict, InvalidInput, LimitTooHigh, NotFound
from podium.sessions.service import SessionService, SessionView

FLOW = "orchestrator"
DEFAULT_MAX_RESULTS = 5
MAX_PROMPT_CHARS = 10_000
MAX_RESPONSE_CHARS = 10_000
# The run's status → the thread's, as the seed's clients know them.
THREAD_STATUS = {
    "succeeded": "completed",
    "interrupted": "pending_user_input",
    "failed": "error",
    "cancelled": "error",
}


class Orchestrator:
    """The orchestrator threads of an app, on the API's session service."""

    def __init__(self, sessions: SessionService) -> None:
        self.sessions = sessions
        self.settings = sessions.podium.settings

    def check_max_results(self, max_results: int) -> int:
        cap = self.settings.orchestrator_max_results
        if max_results > cap:
            raise LimitTooHigh(
                f"max_results {max_results} is over the server cap of {cap} "
                "(PODIUM_ORCHESTRATOR_MAX_RESULTS); ask for fewer candidate agents per task",
                details={"setting": "PODIUM_ORCHESTRATOR_MAX_RESULTS", "cap": cap},
            )
        if max_results < 1:
            raise InvalidInput(
                f"max_results is how many candidate agents to keep per task: from 1 to {cap}, "
                f"not {max_results}"
            )
        return max_results

    async def chat(
        self, app_id: str, prompt: str, max_results: int, user_id: str | None
    ) -> dict[str, Any]:
        """Start a thread on `prompt` and wait for its answer or its question."""
        view = await self.start(app_id, prompt, max_results, user_id)
        assert view.run is not None  # a new session has its first run
        await self.sessions.wait_run(app_id, view.run.id, self.settings.orchestrator_wait_seconds)
        return await self.status(app_id, view.session.id)

    async def start(
        self, app_id: str, prompt: str, max_results: int, user_id: str | None
    ) -> SessionView:
        """Start a thread on `prompt` (its run queued); the thread's session."""
        prompt = prompt.strip()
        if not prompt:
            raise InvalidInput(
                "prompt is empty: say what you need, e.g. “find the weather in Paris, then "
                "translate it into French”"
            )
        self.check_max_results(max_results)
        return await self.sessions.create_session(
            app_id,
            FLOW,
            {"prompt": prompt, "max_results": max_results},
            metadata={"kind": "orchestrator"},
            user_id=user_id,
        )

    async def thread(self, app_id: str, thread_id: str) -> SessionView:
        try:
            view = await self.sessions.get_session(app_id, thread_id)
        except NotFound:
            view = None
        if view is None or view.flow is None or view.flow.name != FLOW:
            raise NotFound(
                f"no orchestrator thread {thread_id!r} in this app; start one with "
                f"POST /api/v1/apps/{app_id}/orchestrator/chat"
            )
        return view

    async def answer(
        self, app_id: str, thread_id: str, response: str, user_id: str | None
    ) -> dict[str, Any]:
        """Answer the thread's pending question (the run re-plans) and wait as `chat` does."""
        run_id = await self.answer_question(app_id, thread_id, response)
        await self.sessions.wait_run(app_id, run_id, self.settings.orchestrator_wait_seconds)
        return await self.status(app_id, thread_id)

    async def answer_question(self, app_id: str, thread_id: str, response: str) -> str:
        """Answer the thread's pending question; the run it queues again."""
        response = response.strip()
        if not response:
            raise InvalidInput(
                "response is empty: answer the thread's question_for_user (or “skip” to leave "
                "a task out)"
            )
        view = await self.thread(app_id, thread_id)
        questions = [q for q in view.questions if q.kind == "question"]
        if not questions:
            status = self._status(view)
            raise Conflict(
                f"orchestrator thread {thread_id} has no question waiting for an answer (it is "
                f"{status}); read it with GET /api/v1/apps/{app_id}/orchestrator/status/"
                f"{thread_id}, or start a new request with POST …/orchestrator/chat",
                details={"thread_id": thread_id, "status": status},
            )
        return await self.sessions.answer(app_id, thread_id, questions[0].id, response)

    async def status(self, app_id: str, thread_id: str) -> dict[str, Any]:
        """`{thread_id, status, final_response, question_for_user, task_agent_pairs, …}`."""
        return self.shape(await self.thread(app_id, thread_id))

    def _status(self, view: SessionView) -> str:
        run = view.run
        if run is None:
            return "running"
        if run.status == "paused":
            return "pending_user_input" if view.questions else "paused"
        return THREAD_STATUS.get(run.status, "running")

    def shape(self, view: SessionView) -> dict[str, Any]:
        state = view.session.state
        status = self._status(view)
        question = view.questions[0].question if status == "pending_user_input" else None
        plan = state.get("plan") or {}
        return {
            "thread_id": view.session.id,
            "status": status,
            "final_response": state.get("final_response") if status == "completed" else None,
            "question_for_user": question,
            "requires_user_input": status == "pending_user_input",
            "task_agent_pairs": state.get("task_agent_pairs") or [],
            "batches": plan.get("batches") or [],
            "error_message": view.run.error if view.run and status == "error" else None,
            "run_id": view.run.id if view.run else None,
        }
