"""RAG for agents, run by the engine on every backend: the guide answers from the shipped
`podium-docs` with a citation offline; `search_knowledge` searches only the agent's
namespaces and refuses what is wrong with a message the model reads; `knowledge.prepend`
puts the passages before the first model call; and a step that runs again searches nothing
again."""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import fast_settings

import podium
from podium import Podium
from podium.engine.flow import Flow
from podium.errors import NotFound
from podium.knowledge.retrieval import Retriever
from podium.knowledge.samples import SAMPLES, describe_samples, sample_documents
from podium.knowledge.service import KnowledgeService
from podium.llm.base import DeltaSink, ModelRequest, ModelResponse
from podium.llm.offline import KNOWLEDGE_CONTEXT, OfflineProvider
from podium.storage.agents import ToolCallFilter, ToolCallRecord, list_tool_calls, save_agent
from podium.storage.records import RunRecord
from podium.tools.base import DEFAULT, ToolContext, tool
from podium.tools.knowledge import search_knowledge

CHAT_FLOW = Flow.model_validate(
    json.loads((Path(podium.__file__).parent / "flows" / "chat.json").read_text())
)
ROOT = Path(__file__).resolve().parents[2]
FAQ = [
    {
        "key": "refunds",
        "text": "# Refunds\n\nOrders are refunded within 14 days. A refund goes back to the "
        "card that paid.",
    },
    {"key": "shipping", "text": "# Shipping\n\nParcels leave the warehouse every weekday."},
]
CHARGED: list[int] = []


@tool(registry=DEFAULT, requires_approval=True)
async def t_rag_charge(amount: int) -> dict[str, Any]:
    """Charge the customer's card (a side effect that must happen once).

    Args:
        amount: The amount, in cents.
    """
    CHARGED.append(amount)
    return {"charged": amount}


class SearchSpy:
    """Every search that reached the knowledge service through the retriever."""

    def __init__(self) -> None:
        self.queries: list[tuple[list[str], str, int]] = []


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> SearchSpy:
    found = SearchSpy()
    search = Retriever.search

    async def recording(
        self: Retriever, app_id: str, namespaces: list[str], query: str, *, k: int
    ) -> dict[str, Any]:
        found.queries.append((namespaces, query, k))
        return await search(self, app_id, namespaces, query, k=k)

    monkeypatch.setattr(Retriever, "search", recording)
    return found


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> list[ModelRequest]:
    found: list[ModelRequest] = []
    complete = OfflineProvider.complete

    async def recording(
        self: OfflineProvider, request: ModelRequest, on_delta: DeltaSink | None = None
    ) -> ModelResponse:
        found.append(request)
        return await complete(self, request, on_delta)

    monkeypatch.setattr(OfflineProvider, "complete", recording)
    return found


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Podium]:
    CHARGED.clear()
    async with Podium.open(database_url, settings=fast_settings(), workers=1, migrate=False) as p:
        yield p


@pytest.fixture
async def app_id(runtime: Podium) -> str:
    return await runtime.default_app()


def knowledge(runtime: Podium) -> KnowledgeService:
    found: KnowledgeService = runtime.service("knowledge")
    return found


async def define(runtime: Podium, app_id: str, definition: dict[str, Any]) -> None:
    name = definition["name"]
    await runtime.store.run_script(lambda: save_agent(app_id, name, definition, None, time.time()))


async def chat(
    runtime: Podium, agent: str, message: str, session_id: str | None = None
) -> RunRecord:
    if session_id is None:
        handle = await runtime.start(CHAT_FLOW, {"agent": agent, "message": message})
        run_id = handle.run_id
    else:
        run_id = await runtime.rerun(session_id, {"agent": agent, "message": message})
    return await runtime.wait(run_id, timeout=30)


async def tool_log(runtime: Podium, app_id: str, run_id: str) -> list[ToolCallRecord]:
    records: list[ToolCallRecord] = await runtime.store.run_read(
        lambda: list_tool_calls(app_id, ToolCallFilter(run_id=run_id))
    )
    return sorted(records, key=lambda r: r.call_key or "")


def scripted(name: str, turns: list[Any], **options: Any) -> dict[str, Any]:
    tools = sorted({c["name"] for turn in turns for c in turn.get("tool_calls", [])})
    return {"name": name, "model": "offline/script", "tools": tools, "script": turns, **options}


async def tool_results(runtime: Podium, run: RunRecord) -> list[Any]:
    session = await runtime.store.get_session(run.session_id)
    return [
        json.loads(m["content"]) if m["content"].startswith("{") else m["content"]
        for m in session.state["messages"]
        if m["role"] == "tool"
    ]


# --- the guide and the shipped sample -------------------------------------------------------


async def test_the_guide_answers_from_podium_docs_with_a_citation_offline(
    runtime: Podium, app_id: str
) -> None:
    run = await chat(runtime, "guide", "Does a finished step run again after a crash?")
    assert run.status == "succeeded", run.error
    assert run.output == {
        "answer": "After a crash a restarted worker takes the run back and continues: "
        "finished steps never run again, and the step that was in flight runs again with its "
        "recorded calls returning their recorded results. [podium-docs/durability#0]"
    }
    # the search is a tool call like the others, logged with its arguments and hits
    [call] = await tool_log(runtime, app_id, run.id)
    assert (call.tool, call.agent, call.status, call.call_key) == (
        "search_knowledge",
        "guide",
        "ok",
        "guide.t0.0",
    )
    # the question's key words
    assert call.arguments == {"query": "finished step run again after crash"}
    assert call.result["namespaces"] == ["podium-docs"]
    assert call.result["hits"][0]["citation"] == "[podium-docs/durability#0]"
    assert len(call.result["hits"]) == 3  # the guide's k
    # the app got the sample the first time the guide searched it
    [held] = await knowledge(runtime).list_namespaces(app_id)
    assert held["namespace"] == "podium-docs"
    assert held["documents"] == len(sample_documents("podium-docs"))


@pytest.mark.parametrize(
    ("question", "citation"),
    [
        ("How do I stop a user from starting a flow before finishing another?", "gates"),
        ("What is an artifact and how is it changed?", "artifacts"),
        ("Which roles can a member of an app have?", "tenants"),
        ("How do I scale out with PostgreSQL workers and leases?", "scaling"),
        ("How does a tool that requires approval work?", "approvals"),
        ("How do I connect an MCP server?", "mcp"),
        ("Where do I configure the database?", "configuration"),
        ("How are events streamed to clients?", "live-streams"),
    ],
)
async def test_the_guide_cites_the_document_that_answers(
    runtime: Podium, question: str, citation: str
) -> None:
    run = await chat(runtime, "guide", question)
    assert run.status == "succeeded", run.error
    assert run.output["answer"].endswith(f"[podium-docs/{citation}#0]"), run.output


async def test_the_sample_is_loaded_once_and_a_conversation_searches_per_message(
    runtime: Podium, app_id: str, searches: SearchSpy
) -> None:
    first = await chat(runtime, "guide", "What is a gate?")
    [before] = await knowledge(runtime).list_documents(app_id, "podium-docs", limit=1)
    second = await chat(runtime, "guide", "And what is a journey?", first.session_id)
    assert second.status == "succeeded", second.error
    assert second.output["answer"].endswith("[podium-docs/gates#0]")
    [after] = await knowledge(runtime).list_documents(app_id, "podium-docs", limit=1)
    assert after["updated_at"] == before["updated_at"]  # not loaded again
    assert [query for _, query, _ in searches.queries] == ["gate", "journey"]


def test_the_podium_docs_sample_is_a_few_dozen_documents_about_podium() -> None:
    documents = sample_documents("podium-docs")
    keys = [d["key"] for d in documents]
    assert 30 <= len(documents) <= 60 and keys == sorted(keys)
    for topic in ("what-is-podium", "flows", "durability", "agents", "tools", "sessions",
                  "artifacts", "gates", "memory", "events", "tenants", "security", "packs",
                  "cli", "configuration", "knowledge"):  # fmt: skip
        assert topic in keys
    durability = documents[keys.index("durability")]
    assert durability["metadata"] == {
        "title": "Durability and crash recovery",
        "sample": "podium-docs",
    }
    assert all(d["text"].startswith("# ") and len(d["text"]) < 1000 for d in documents)
    assert describe_samples() == [
        {"name": "podium-docs", "description": SAMPLES["podium-docs"], "documents": len(keys)}
    ]
    with pytest.raises(NotFound) as raised:
        sample_documents("klingon")
    assert raised.value.message == (
        "no sample knowledge named 'klingon'; the samples are ['podium-docs']"
    )


def test_the_samples_are_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["podium"]
    assert "knowledge/samples/*/*.md" in patterns
    shipped = ROOT / "src" / "podium" / "knowledge" / "samples" / "podium-docs"
    assert sorted(p.stem for p in shipped.glob("*.md")) == [
        d["key"] for d in sample_documents("podium-docs")
    ]


# --- search_knowledge -------------------------------------------------------------------------


async def test_search_knowledge_searches_only_the_agents_namespaces(
    runtime: Podium, app_id: str
) -> None:
    await knowledge(runtime).put_documents(app_id, "faq", FAQ)
    await knowledge(runtime).put_documents(
        app_id, "secrets", [{"key": "refunds", "text": "Refunds are secret."}]
    )
    secrets = {"query": "refunds", "namespace": "secrets"}
    turns = [
        {"tool_calls": [{"name": "search_knowledge", "arguments": {"query": "refunds"}}]},
        {"tool_calls": [{"name": "search_knowledge", "arguments": secrets}]},
        {"text": "done"},
    ]
    await define(runtime, app_id, scripted("helper", turns, knowledge={"namespaces": ["faq"]}))
    run = await chat(runtime, "helper", "refunds?")
    assert run.status == "succeeded", run.error
    found, refused = await tool_results(runtime, run)
    assert [hit["citation"] for hit in found["hits"]] == ["[faq/refunds#0]"]
    assert found["hits"][0]["text"].startswith("# Refunds")
    assert refused == (
        "error: ValueError: agent 'helper' may not search namespace 'secrets'; its namespaces "
        "are ['faq'] (leave namespace out to search all)"
    )
    log = await tool_log(runtime, app_id, run.id)
    assert [(r.tool, r.status) for r in log] == [
        ("search_knowledge", "ok"),
        ("search_knowledge", "error"),
    ]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"query": "   "}, "ValueError: the query is empty; give the words to look for"),
        ({"query": ""}, "bad arguments for search_knowledge: query: String should have at least"),
        ({"query": "x", "k": 21}, "k must be between 1 and 20 (PODIUM_AGENT_KNOWLEDGE_K_CAP)"),
        ({"query": "x", "k": 0}, "bad arguments for search_knowledge: k: Input should be"),
        ({"query": "x", "top": 1}, "bad arguments for search_knowledge: top: Extra inputs"),
        ({"query": "x" * 1001}, "query: String should have at most 1000 characters"),
    ],
)
async def test_bad_search_arguments_are_an_error_the_model_reads(
    runtime: Podium, app_id: str, arguments: dict[str, Any], error: str
) -> None:
    turns = [
        {"tool_calls": [{"name": "search_knowledge", "arguments": arguments}]},
        {"text": "sorry"},
    ]
    await define(runtime, app_id, scripted("fumbler", turns, knowledge={"namespaces": ["faq"]}))
    run = await chat(runtime, "fumbler", "go")
    assert run.status == "succeeded", run.error
    [result] = await tool_results(runtime, run)
    assert error in result


async def test_a_namespace_without_documents_is_named_in_the_note(
    runtime: Podium, app_id: str
) -> None:
    await knowledge(runtime).put_documents(app_id, "faq", FAQ)
    empty_search = {"query": "parcels", "namespace": "empty"}
    turns = [
        {"tool_calls": [{"name": "search_knowledge", "arguments": {"query": "parcels"}}]},
        {"tool_calls": [{"name": "search_knowledge", "arguments": empty_search}]},
        {"text": "done"},
    ]
    options = {"knowledge": {"namespaces": ["faq", "empty"]}}
    await define(runtime, app_id, scripted("seeker", turns, **options))
    run = await chat(runtime, "seeker", "go")
    assert run.status == "succeeded", run.error
    both, empty = await tool_results(runtime, run)
    assert [hit["citation"] for hit in both["hits"]] == ["[faq/shipping#0]"]
    assert (
        both["note"].startswith("full-text search only")
        and "empty holds no documents in this app; add some with POST " in both["note"]
    )
    assert empty["hits"] == [] and empty["note"].startswith("empty holds no documents")


async def test_search_knowledge_outside_an_agent_with_knowledge_says_what_is_missing() -> None:
    outcome = await search_knowledge.execute('{"query": "refunds"}', ToolContext(app_id="app_x"))
    assert outcome.status == "error"
    assert outcome.error == (
        "ValueError: search_knowledge works only for an agent whose definition names its "
        'knowledge namespaces: "knowledge": {"namespaces": ["podium-docs"]}'
    )


# --- prepend ----------------------------------------------------------------------------------


async def test_prepend_puts_the_passages_before_the_first_model_call(
    runtime: Podium, app_id: str, requests: list[ModelRequest]
) -> None:
    await knowledge(runtime).put_documents(app_id, "faq", FAQ)
    definition = {
        "name": "support",
        "instructions": "Answer from the context.",
        "knowledge": {"namespaces": ["faq"], "k": 2, "prepend": True},
    }
    await define(runtime, app_id, definition)
    run = await chat(runtime, "support", "When are orders refunded?")
    assert run.status == "succeeded", run.error
    assert run.output == {"answer": "Orders are refunded within 14 days. [faq/refunds#0]"}
    [request] = requests
    assert [m.role for m in request.messages] == ["system", "system", "user"]
    assert request.messages[1].content == "\n".join(
        [
            f"{KNOWLEDGE_CONTEXT} (from faq; cite what you use by its [namespace/key#chunk]):",
            "",
            "[faq/refunds#0]",
            FAQ[0]["text"],
        ]
    )
    assert request.tools == []  # prepend alone offers no tool
    [call] = await tool_log(runtime, app_id, run.id)
    assert (call.call_key, call.tool, call.arguments) == (
        "support.knowledge",
        "search_knowledge",
        {"query": "When are orders refunded?"},
    )
    # the context is the loop's, not the conversation's
    session = await runtime.store.get_session(run.session_id)
    assert [m["role"] for m in session.state["messages"]] == ["user", "assistant"]


async def test_prepend_with_nothing_found_says_so(runtime: Podium, app_id: str) -> None:
    await knowledge(runtime).put_documents(app_id, "faq", FAQ)
    definition = {"name": "support", "knowledge": {"namespaces": ["faq"], "prepend": True}}
    await define(runtime, app_id, definition)
    run = await chat(runtime, "support", "quantum chromodynamics")
    assert run.status == "succeeded", run.error
    assert run.output == {
        "answer": "I found nothing in the knowledge base about: quantum chromodynamics"
    }


# --- replay -----------------------------------------------------------------------------------


async def test_a_step_that_runs_again_searches_nothing_again(
    runtime: Podium, app_id: str, searches: SearchSpy
) -> None:
    await knowledge(runtime).put_documents(app_id, "faq", FAQ)
    turns = [
        {"tool_calls": [{"name": "search_knowledge", "arguments": {"query": "refund card"}}]},
        {"tool_calls": [{"name": "t_rag_charge", "arguments": {"amount": 100}}]},
        {"text": "refunded [faq/refunds#0]"},
    ]
    options = {"knowledge": {"namespaces": ["faq"], "prepend": True}}
    await define(runtime, app_id, scripted("refunder", turns, **options))
    run = await chat(runtime, "refunder", "Refund my order")
    assert run.status == "interrupted", run.error  # the charge waits for an approval
    assert len(searches.queries) == 2  # the prepended context, then the tool call
    [question] = await runtime.pending_questions(run.id)
    await runtime.answer(question.id, "approve")
    done = await runtime.wait(run.id, timeout=30)
    assert done.status == "succeeded", done.error
    assert done.output == {"answer": "refunded [faq/refunds#0]"}
    # the step ran again from its start; both searches were replayed, not repeated
    assert [query for _, query, _ in searches.queries] == ["Refund my order", "refund card"]
    assert CHARGED == [100]
    log = await tool_log(runtime, app_id, run.id)
    assert [(r.call_key, r.tool) for r in log] == [
        ("refunder.knowledge", "search_knowledge"),
        ("refunder.t0.0", "search_knowledge"),
        ("refunder.t1.0", "t_rag_charge"),
    ]


async def test_an_agent_node_asking_for_metadata_retrieves_for_the_task_alone(
    runtime: Podium, app_id: str
) -> None:
    await knowledge(runtime).put_documents(app_id, "faq", FAQ)
    definition = {"name": "support", "knowledge": {"namespaces": ["faq"], "prepend": True}}
    await define(runtime, app_id, definition)
    node = {"agent": "support", "metadata_key": "metadata", "metadata_keys": ["lead_score"]}
    flow = Flow.model_validate(
        {"name": "triage", "nodes": [{"id": "support", "type": "agent", "config": node}]}
    )
    handle = await runtime.start(flow, {"message": "When are orders refunded?"})
    run = await runtime.wait(handle.run_id, timeout=30)
    assert run.status == "succeeded", run.error
    session = await runtime.store.get_session(run.session_id)
    assert session.state["answer"] == "Orders are refunded within 14 days. [faq/refunds#0]"
    assert session.state["metadata"] == {"lead_score": 40}
    [call] = await tool_log(runtime, app_id, run.id)
    assert call.arguments == {"query": "When are orders refunded?"}


async def test_prepend_skips_a_message_with_no_words(
    runtime: Podium, app_id: str, searches: SearchSpy
) -> None:
    await knowledge(runtime).put_documents(app_id, "faq", FAQ)
    definition = {"name": "support", "knowledge": {"namespaces": ["faq"], "prepend": True}}
    await define(runtime, app_id, definition)
    run = await chat(runtime, "support", "???")
    assert run.status == "succeeded", run.error
    assert run.output == {"answer": "???"}  # the echo, with no context to answer from
    assert searches.queries == []
