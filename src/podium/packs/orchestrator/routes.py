"""The orchestrator's routes, mounted at /api/v1/apps/{app_id}/orchestrator (the pack is
mounted at the app's root, as the seed's clients expect; the mount refuses a caller who is
not a member of the app, and an app that has not enabled the pack):

    POST /chat      {prompt, max_results}   start a thread; its answer or its question (member+)
    POST /continue  {thread_id, response}   answer the thread's question (member+)
    GET  /status/{thread_id}                the thread as it is now (viewer+)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from podium.api.deps import AppMember, AppViewer, ServicesDep
from podium.packs.orchestrator.schemas import ChatRequest, ContinueRequest, ThreadPublic
from podium.packs.orchestrator.service import Orchestrator

router = APIRouter(tags=["pack: orchestrator"])
ThreadId = Annotated[str, Path(max_length=80, description="the thread's id (ses_…)")]


@router.post("/chat")
async def chat(body: ChatRequest, access: AppMember, services: ServicesDep) -> ThreadPublic:
    """Plan and run the request; answers when it is done (`completed`), when it asks the
    user (`pending_user_input`, with `question_for_user`), or `running` when the server's
    wait ended first."""
    orchestrator = Orchestrator(services.sessions)
    answer = await orchestrator.chat(
        access.app_id, body.prompt, body.max_results, access.principal.user_id
    )
    return ThreadPublic.of(answer)


@router.post("/continue")
async def continue_thread(
    body: ContinueRequest, access: AppMember, services: ServicesDep
) -> ThreadPublic:
    """Answer the thread's pending question: the request is planned again with it."""
    orchestrator = Orchestrator(services.sessions)
    answer = await orchestrator.answer(
        access.app_id, body.thread_id, body.response, access.principal.user_id
    )
    return ThreadPublic.of(answer)


@router.get("/status/{thread_id}")
async def thread_status(
    thread_id: ThreadId, access: AppViewer, services: ServicesDep
) -> ThreadPublic:
    """The thread now: its status, its question or final answer, its tasks and agents."""
    return ThreadPublic.of(await Orchestrator(services.sessions).status(access.app_id, thread_id))
