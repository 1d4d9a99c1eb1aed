"""Streaming with the client against a live `podium serve`: an event stream that loses its
server (killed and started again) reconnects from the last `seq` it read and gets every event
once, in order; the async client follows a run while it answers its question, and streams a
chat turn's tokens."""

from __future__ import annotations

import signal

from tests.api.live import PASSWORD, LiveServer, ask_flow

from podium.client import AsyncClient, Client, models


def test_an_event_stream_resumes_after_the_server_restarts(
    live: LiveServer, client: Client
) -> None:
    app = client.create_app("resume")
    client.register_flow(app.id, ask_flow())
    session = client.start_session(app.id, "ask")
    events = iter(client.stream_events(app.id, session_id=session.id))
    seen: list[models.EventPublic] = []
    while not seen or seen[-1].type != "run.interrupted":
        seen.append(next(events))

    # The server dies under the open stream; it comes back, and the question is answered
    # before the stream reads again: what happened meanwhile is only in the log.
    live.stop(signal.SIGKILL)
    live.start()
    question = client.get_session(app.id, session.id).pending_question
    assert question is not None
    client.answer(app.id, session.id, question.interrupt_id, "Ada")
    assert session.run_id is not None
    assert client.wait_for(app.id, session.run_id, until={"succeeded"}).status == "succeeded"

    while seen[-1].type != "run.succeeded":
        seen.append(next(events))
    logged = [e for e in seen if e.seq is not None]
    log = client.events(app.id, session_id=session.id).items
    assert [e.seq for e in logged] == [e.seq for e in log]  # every event once, in order
    assert [e.id for e in logged] == [e.id for e in log]
    types = [e.type for e in logged]
    assert (
        types.index("run.interrupted") < types.index("run.queued", 2) < types.index("run.succeeded")
    )
    assert client.get_session(app.id, session.id).state["greeting"] == "Hello, Ada!"


async def test_the_async_client_follows_a_run_and_answers_it(live: LiveServer) -> None:
    async with AsyncClient(live.origin) as client:
        await client.login("admin", PASSWORD)
        app = await client.create_app("async")
        await client.register_flow(app.id, ask_flow())
        session = await client.start_session(app.id, "ask")
        assert session.run_id is not None
        followed: list[str] = []
        async for event in client.stream_run(app.id, session.run_id):
            followed.append(event.type)
            if event.type == "node.interrupted":
                await client.answer(app.id, session.id, event.data["interrupt_id"], "Ada")
        assert followed[-1] == "run.succeeded" and "node.interrupted" in followed
        run = await client.wait_for(app.id, session.run_id)
        assert run.status == "succeeded"
        names = [s.flow async for s in client.iter_sessions(app.id, page_size=1)]
        assert names == ["ask"]

        tokens = [t async for t in client.chat_tokens(app.id, "Stream me")]
        assert len(tokens) > 1  # the offline model streams word by word
        history = await client.chat(app.id, "Once more")
        assert history.answer
