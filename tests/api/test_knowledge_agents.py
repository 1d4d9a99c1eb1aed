"""RAG over HTTP, with no configuration: the built-in `guide` answers from the shipped
`podium-docs` on `offline/echo` with a citation and its search is in `/tool-calls`; the
samples are listed and loaded; an app's own agent searches its own knowledge (or has it
prepended); and bad knowledge options are refused with what to do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import Actor, add_member
from tests.api.live import ROOT, LiveServer, create_admin, login, server_env

from podium.knowledge.samples import sample_documents

AGENTS_DOC = ROOT / "docs" / "agents.md"
QUESTION = "Does a finished step run again after a crash?"
ANSWER = (
    "After a crash a restarted worker takes the run back and continues: finished steps never "
    "run again, and the step that was in flight runs again with its recorded calls returning "
    "their recorded results. [podium-docs/durability#0]"
)


def test_the_guide_answers_a_chat_from_podium_docs_with_a_citation(admin: Actor) -> None:
    base = f"/api/v1/apps/{admin.create_app('guided')}"
    reply = admin.post(f"{base}/chat/messages", {"agent": "guide", "message": QUESTION})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["status"], body["answer"]) == ("succeeded", ANSWER)
    calls = admin.get(f"{base}/tool-calls", params={"tool": "search_knowledge"}).json()
    [call] = calls["items"]
    assert (call["agent"], call["status"], call["run_id"]) == ("guide", "ok", body["run_id"])
    assert call["arguments"] == {"query": "finished step run again after crash"}
    assert call["result"]["hits"][0]["citation"] == "[podium-docs/durability#0]"
    # the guide's first search loaded the sample into the app
    [namespace] = admin.get(f"{base}/knowledge").json()
    assert namespace["namespace"] == "podium-docs"
    assert namespace["documents"] == len(sample_documents("podium-docs"))


def test_the_guide_answers_an_invocation_too(admin: Actor) -> None:
    base = f"/api/v1/apps/{admin.create_app('invoked')}"
    reply = admin.post(f"{base}/agents/guide/invoke", {"task": "What is a journey?"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["answer"] == (
        "A journey is an ordered sequence of flows that a UI can show as a path; each step of "
        "a gated journey requires the one before it. [podium-docs/gates#0]"
    )
    guide = admin.get(f"{base}/agents/guide").json()
    assert guide["definition"]["knowledge"] == {
        "namespaces": ["podium-docs"],
        "k": 3,
        "prepend": False,
    }


def test_the_samples_are_listed_and_loaded_by_members(make_user: Any) -> None:
    owner = make_user("owen")
    base = f"/api/v1/apps/{owner.create_app('samples')}"
    listed = owner.get(f"{base}/knowledge-samples")
    assert listed.status_code == 200, listed.text
    count = len(sample_documents("podium-docs"))
    [sample] = listed.json()
    assert (sample["name"], sample["documents"]) == ("podium-docs", count)
    loaded = owner.post(f"{base}/knowledge-samples/podium-docs")
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["namespace"] == "podium-docs"
    assert len(loaded.json()["documents"]) == count
    found = owner.get(f"{base}/knowledge/podium-docs/search", params={"q": "gate journey"})
    assert found.json()["hits"][0]["key"] == "gates"
    unknown = owner.post(f"{base}/knowledge-samples/klingon")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == (
        "no sample knowledge named 'klingon'; the samples are ['podium-docs']"
    )
    too_long = owner.post(f"{base}/knowledge-samples/{'x' * 101}")
    assert too_long.status_code == 422
    assert "at most 100 characters" in too_long.json()["error"]["message"]
    viewer = make_user("vera")
    add_member(owner, base, viewer, "viewer")
    assert viewer.get(f"{base}/knowledge-samples").status_code == 200
    assert viewer.post(f"{base}/knowledge-samples/podium-docs").status_code == 403


def test_an_apps_agent_searches_its_own_knowledge_or_has_it_prepended(admin: Actor) -> None:
    base = f"/api/v1/apps/{admin.create_app('support')}"
    documents = [
        {"key": "refunds", "text": "Orders are refunded within 14 days of the request."},
        {"key": "shipping", "text": "Parcels leave the warehouse every weekday."},
    ]
    stored = admin.post(f"{base}/knowledge/faq/documents", {"documents": documents})
    assert stored.status_code == 200, stored.text
    for name, knowledge, tools in (
        ("searcher", {"namespaces": ["faq"]}, ["search_knowledge"]),
        ("reader", {"namespaces": ["faq"], "k": 1, "prepend": True}, []),
    ):
        definition = {"name": name, "tools": tools, "knowledge": knowledge}
        created = admin.post(f"{base}/agents", definition)
        assert created.status_code == 201, created.text
        reply = admin.post(
            f"{base}/chat/messages", {"agent": name, "message": "When are orders refunded?"}
        )
        assert reply.json()["answer"] == (
            "Orders are refunded within 14 days of the request. [faq/refunds#0]"
        ), name
    calls = admin.get(f"{base}/tool-calls", params={"tool": "search_knowledge"}).json()
    assert [(c["agent"], c["result"]["namespaces"]) for c in calls["items"]] == [
        ("searcher", ["faq"]),
        ("reader", ["faq"]),
    ]


def test_bad_knowledge_options_are_refused_with_what_to_do(admin: Actor) -> None:
    base = f"/api/v1/apps/{admin.create_app('refusals')}"

    def refused(definition: dict[str, Any]) -> tuple[int, str, str]:
        response = admin.post(f"{base}/agents", {"name": "docs", **definition})
        error = response.json()["error"]
        return response.status_code, error["code"], error["message"]

    assert refused({"knowledge": {"namespaces": ["_agents"]}}) == (
        422,
        "invalid_input",
        "body.knowledge.namespaces: namespace '_agents' is reserved (names starting with '_' "
        "belong to the server's own indexes); name one of the app's knowledge namespaces, "
        "e.g. 'podium-docs'",
    )
    status, _, message = refused({"knowledge": {"namespaces": ["a/b"]}})
    assert status == 422 and "'a/b' is not a knowledge namespace name" in message
    status, _, message = refused({"tools": ["search_knowledge"]})
    assert status == 422 and message.endswith(
        'add "knowledge": {"namespaces": ["podium-docs"]} (the namespaces it may search)'
    )
    assert refused({"knowledge": {"namespaces": ["faq"], "k": 1000}}) == (
        422,
        "limit_too_high",
        "knowledge.k 1000 is over the server cap of 20 (PODIUM_AGENT_KNOWLEDGE_K_CAP); ask "
        "for less in the agent definition, or have the operator raise the setting",
    )
    assert admin.get(f"{base}/agents/docs").status_code == 404  # nothing was stored


# --- docs/agents.md, "Knowledge (RAG)" ---------------------------------------------------------


def doc_examples() -> list[dict[str, Any]]:
    text = AGENTS_DOC.read_text()
    match = re.search(r"^## Knowledge \(RAG\)\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "docs/agents.md has no '## Knowledge (RAG)' section"
    return [
        json.loads(block) for block in re.findall(r"^```json\n(.*?)^```$", match[1], re.S | re.M)
    ]


def test_the_docs_examples_work_as_printed(admin: Actor) -> None:
    base = f"/api/v1/apps/{admin.create_app('documented')}"
    question, answer, documents, agent, support_question, support_answer = doc_examples()
    reply = admin.post(f"{base}/chat/messages", question)
    assert reply.status_code == 200, reply.text
    assert {key: reply.json()[key] for key in answer} == answer
    [call] = admin.get(f"{base}/tool-calls", params={"tool": "search_knowledge"}).json()["items"]
    assert call["arguments"] == {"query": "finished step run again after crash"}
    stored = admin.post(f"{base}/knowledge/faq/documents", documents)
    assert stored.status_code == 200, stored.text
    created = admin.post(f"{base}/agents", agent)
    assert created.status_code == 201, created.text
    reply = admin.post(f"{base}/chat/messages", support_question)
    assert reply.status_code == 200, reply.text
    assert {key: reply.json()[key] for key in support_answer} == support_answer


def test_the_readme_example_works_as_printed(admin: Actor) -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(
        r"^\*\*Knowledge \(RAG\)\.\*\*(.*?)^The option, the tool", readme, re.S | re.M
    )
    assert match, "README.md has no **Knowledge (RAG).** paragraph under Agents"
    [command] = re.findall(r"^```sh\n(.*?)^```$", match[1], re.S | re.M)
    [printed] = re.findall(r"^```text\n(.*?)^```$", match[1], re.S | re.M)
    path = re.search(r"http://127\.0\.0\.1:8000(/api/v1/apps/\$APP/\S+)", command)
    body = re.search(r"-d '(.*?)'", command, re.S)
    assert path and body and command.rstrip().endswith("| pick answer"), command
    app_id = admin.create_app("readme")
    reply = admin.post(path[1].replace("$APP", app_id), json.loads(body[1]))
    assert reply.status_code == 200, reply.text
    assert reply.json()["answer"] == printed.strip()


@pytest.mark.slow
def test_the_guide_answers_on_a_live_server_with_no_model_and_after_a_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "podium.db"
    env = server_env()
    create_admin(db, env)
    server = LiveServer(db, env).start()
    try:
        token = login(server)
        app = server.call("POST", "/apps", {"name": "live-guide"}, token)["id"]
        assert server.call("GET", f"/apps/{app}/agents/health", token=token)["default_model"] == (
            "offline/echo"
        )
        chat = {"agent": "guide", "message": QUESTION}
        reply = server.call("POST", f"/apps/{app}/chat/messages", chat, token)
        assert (reply["status"], reply["answer"]) == ("succeeded", ANSWER)
        loaded = server.call("GET", f"/apps/{app}/knowledge/podium-docs/documents", token=token)
    finally:
        server.stop()
    # The sample stays loaded: after a restart the guide answers without loading it again.
    server = LiveServer(db, env).start()
    try:
        token = login(server)
        follow_up = {
            "session_id": reply["session_id"],
            "agent": "guide",
            "message": "What is a journey?",
        }
        again = server.call("POST", f"/apps/{app}/chat/messages", follow_up, token)
        assert again["answer"].endswith("[podium-docs/gates#0]"), again
        calls = server.call("GET", f"/apps/{app}/tool-calls?tool=search_knowledge", token=token)
        assert [c["arguments"]["query"] for c in calls["items"]] == [
            "finished step run again after crash",
            "journey",
        ]
        documents = server.call("GET", f"/apps/{app}/knowledge/podium-docs/documents", token=token)
        assert documents == loaded  # not loaded again (the same documents, updated_at included)
    finally:
        server.stop()
    assert "Traceback" not in server.output(), server.output()
