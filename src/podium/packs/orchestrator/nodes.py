"""Node code of the orchestrator flow (flows/orchestrator.json), one durable step per stage
of the pipeline: parse → match capabilities → search the directory → rank → (clarify) →
plan → execute, a batch per step → aggregate.

What reaches outside goes through `ctx`: the model's parse and each directory search are
recorded calls, and each task is one recorded call running its agent (whose own LLM and
tool calls are recorded under it), so a step that runs again after a crash or an answer
repeats none that finished. Each stage emits an `orchestrator.*` event with its result,
written with the step's end, so a client can draw the plan as it is made.
"""

from __future__ import annotations

from typing import Any

from podium.agents.definition import AgentDefinition
from podium.agents.directory import MAX_QUERY_CHARS
from podium.agents.loop import gather_or_cancel, run_agent
from podium.agents.service import extract_json
from podium.agents.services import agent_services
from podium.engine.context import Context
from podium.errors import LeaseLost, RunCancelled
from podium.events import names
from podium.llm.base import Message, ModelRequest, ModelResponse, traced_complete
from podium.packs.orchestrator import events
from podium.packs.orchestrator.planner import (
    PARSE_INSTRUCTIONS,
    answer_text,
    capability_terms,
    is_skip,
    is_vague,
    plan_batches,
    split_request,
    tasks_from_model,
)

# The flow's loop edges allow this many; the settings may ask for fewer.
MAX_QUESTIONS = 5
MAX_TASKS = 50
# Agents that orchestrate rather than do a task: never picked for one.
NOT_FOR_TASKS = ("driver", "creator")
PARSER = AgentDefinition(name="orchestrator_parser", instructions=PARSE_INSTRUCTIONS)
# How much of an earlier task's answer a dependent task is given.
MAX_CONTEXT_CHARS = 4000


def _max_tasks(ctx: Context) -> int:
    return max(1, min(ctx.settings.orchestrator_max_tasks, MAX_TASKS))


def _tasks(ctx: Context) -> list[dict[str, Any]]:
    return list(ctx.state.get("tasks") or [])


async def parse(ctx: Context) -> dict[str, Any]:
    """The request's tasks: from the user's clarification when there was one, else from
    the model when one is configured (not `offline/…`), else from the splitter."""
    request = str(ctx.state.get("request") or ctx.state.get("prompt") or "").strip()
    clarified = ctx.state.get("clarified_tasks")
    if isinstance(clarified, list):
        tasks, mode = clarified, "clarified"
    else:
        tasks, mode = await _parse_request(ctx, request)
    # Tasks the user left out on a question may leave none: that is no vague request.
    ambiguous = mode != "clarified" and (is_vague(request) or not tasks)
    ctx.emit(
        events.PARSED, {"request": request, "tasks": tasks, "mode": mode, "ambiguous": ambiguous}
    )
    return {
        "request": request,
        "tasks": tasks,
        "parse_mode": mode,
        "ambiguous": ambiguous,
        "clarified_tasks": None,
        "replan": False,
    }


async def _parse_request(ctx: Context, request: str) -> tuple[list[dict[str, Any]], str]:
    limit = _max_tasks(ctx)
    if not request:
        return [], "split"
    services = agent_services(ctx)
    model_ref = await services.model_ref(
        ctx.app_id, PARSER, ctx.config.get("model"), ctx.flow_default_model
    )
    if model_ref.partition("/")[0] == "offline":
        return split_request(request, limit), "split"
    provider, config, model = await services.provider(ctx.app_id, model_ref)
    asked = ModelRequest(
        model=model,
        messages=[Message("system", PARSE_INSTRUCTIONS), Message("user", request)],
        tools=[],
        temperature=0,
    )

    async def call_model() -> dict[str, Any]:
        return (await traced_complete(provider, asked, run_id=ctx.run_id)).to_json()

    timeout = config.timeout_seconds * (config.max_retries + 1) + 30
    answer = ModelResponse.from_json(
        await ctx.step("orchestrator.parse", call_model, timeout=timeout)
    )
    tasks = tasks_from_model(extract_json(answer.text), limit)
    if tasks is None:  # not the JSON asked for: the splitter's tasks instead
        return split_request(request, limit), "split (the model's answer was not a task list)"
    return tasks, f"model {model_ref}"


async def match(ctx: Context) -> dict[str, Any]:
    """The capability words of each task: what the directory is searched for."""
    capabilities = {task["id"]: capability_terms(task["text"]) for task in _tasks(ctx)}
    ctx.emit(events.CAPABILITIES, {"capabilities": capabilities})
    return {"capabilities": capabilities}


async def search(ctx: Context) -> dict[str, Any]:
    """Each task's candidate agents from the app's agent directory (a recorded call each)."""
    directory = ctx.runtime_service("agent_directory")
    wanted = _max_results(ctx)
    k = min(wanted + len(NOT_FOR_TASKS), ctx.settings.agent_search_max_k)
    capabilities: dict[str, list[str]] = ctx.state.get("capabilities") or {}
    candidates: dict[str, list[dict[str, Any]]] = {}
    for task in _tasks(ctx):
        terms = capabilities.get(task["id"]) or []
        if not terms:
            candidates[task["id"]] = []
            continue
        query = _query(terms)

        async def find(query: str = query) -> dict[str, Any]:
            found: dict[str, Any] = await directory.search(ctx.app_id, query, k)
            return found

        found = await ctx.step(f"orchestrator.search.{task['id']}", find)
        candidates[task["id"]] = [
            {key: hit[key] for key in ("agent", "score", "matched", "reasons")}
            for hit in found["results"]
            if hit["agent"] not in NOT_FOR_TASKS
        ][:wanted]
    ctx.emit(events.CANDIDATES, {"candidates": candidates})
    return {"candidates": candidates}


def _query(terms: list[str]) -> str:
    """The task's words as a directory query, within its length limit (a long task's first
    words)."""
    query = ""
    for term in terms:
        if len(query) + len(term) + 1 > MAX_QUERY_CHARS:
            break
        query = f"{query} {term}".strip()
    return query or terms[0][:MAX_QUERY_CHARS]


def _max_results(ctx: Context) -> int:
    asked = ctx.state.get("max_results")
    cap = ctx.settings.orchestrator_max_results
    return max(1, min(asked if isinstance(asked, int) else 5, cap))


async def rank(ctx: Context) -> dict[str, Any]:
    """Each task's best candidate (highest score, then name), with the others as
    alternatives; the tasks no agent matched."""
    candidates: dict[str, list[dict[str, Any]]] = ctx.state.get("candidates") or {}
    pairs, unmatched = [], []
    for task in _tasks(ctx):
        ranked = sorted(candidates.get(task["id"], []), key=lambda c: (-c["score"], c["agent"]))
        if not ranked:
            unmatched.append(task["id"])
            continue
        best = ranked[0]
        pairs.append(
            {
                "task_id": task["id"],
                "task": task["text"],
                "agent": best["agent"],
                "score": best["score"],
                "matched": best["matched"],
                "reasons": best["reasons"],
                "alternatives": [c["agent"] for c in ranked[1:]],
                "depends_on": task.get("depends_on", []),
            }
        )
    ctx.emit(events.RANKED, {"task_agent_pairs": pairs, "unmatched": unmatched})
    return {"task_agent_pairs": pairs, "unmatched": unmatched}


async def clarify(ctx: Context) -> dict[str, Any]:
    """Ask the user when the request names no task, or when no agent can do a task; the
    answer re-plans (the loop back to `parse`). After MAX_QUESTIONS questions the tasks
    still unmatched are left out, and the answer says so."""
    asked = int(ctx.state.get("questions_asked") or 0)
    tasks = _tasks(ctx)
    unmatched = list(ctx.state.get("unmatched") or [])
    ambiguous = bool(ctx.state.get("ambiguous"))
    if not ambiguous and not unmatched:
        return {"replan": False}
    if asked >= MAX_QUESTIONS:
        return {"replan": False}
    if ambiguous:
        request = str(ctx.state.get("request") or "")
        question = (
            f"Your request “{request}” does not say what to do. What should the agents do? "
            "For example: “find the weather in Paris, then translate it into French”."
        )
        reason, task_id = "ambiguous", None
    else:
        task_id = unmatched[0]
        text = next(task["text"] for task in tasks if task["id"] == task_id)
        question = (
            f"No agent in this app can do “{text}”. Say it another way (what it is about), "
            "or answer “skip” to leave it out."
        )
        reason = "no_agent"
    ctx.emit(events.QUESTION, {"question": question, "reason": reason, "task_id": task_id})
    answer = answer_text(await ctx.ask_user(question, key=f"orchestrator.question{asked + 1}"))
    clarification = {"question": question, "answer": answer, "reason": reason}
    ctx.emit(events.ANSWERED, {**clarification, "task_id": task_id})
    clarifications = [*(ctx.state.get("clarifications") or []), clarification]
    update: dict[str, Any] = {
        "replan": True,
        "questions_asked": asked + 1,
        "clarifications": clarifications,
    }
    if ambiguous:
        # The answer is the request now; it is parsed afresh.
        return {**update, "request": answer, "clarified_tasks": None}
    kept, skipped = [], list(ctx.state.get("skipped") or [])
    for task in tasks:
        if task["id"] == task_id:
            if is_skip(answer) or not answer:
                skipped.append(task["text"])
                continue
            task = {**task, "text": answer}
        kept.append(task)
    return {**update, "clarified_tasks": kept, "skipped": skipped}


async def plan(ctx: Context) -> dict[str, Any]:
    """Batches of the matched tasks: a task runs after the tasks it depends on; the tasks of
    a batch are independent and run in parallel."""
    pairs = {pair["task_id"]: pair for pair in ctx.state.get("task_agent_pairs") or []}
    matched = [
        {**task, "depends_on": [d for d in task.get("depends_on", []) if d in pairs]}
        for task in _tasks(ctx)
        if task["id"] in pairs
    ]
    batches = plan_batches(matched)
    drawn = [
        [{"task_id": tid, "task": pairs[tid]["task"], "agent": pairs[tid]["agent"]} for tid in b]
        for b in batches
    ]
    ctx.emit(events.PLANNED, {"batches": drawn})
    return {
        "plan": {"batches": batches},
        "batch_index": 0,
        "execution_done": not batches,
    }


async def execute(ctx: Context) -> dict[str, Any]:
    """One batch: its tasks run in parallel, each a recorded call running its agent. The
    flow loops this node until every batch ran."""
    batches: list[list[str]] = (ctx.state.get("plan") or {}).get("batches") or []
    index = int(ctx.state.get("batch_index") or 0)
    if index >= len(batches):
        return {"execution_done": True}
    pairs = {pair["task_id"]: pair for pair in ctx.state.get("task_agent_pairs") or []}
    earlier: dict[str, dict[str, Any]] = dict(ctx.state.get("results") or {})
    services = agent_services(ctx)

    async def run_task(task_id: str) -> dict[str, Any]:
        pair = pairs[task_id]
        prompt = _task_prompt(pair, [earlier[d] for d in pair["depends_on"] if d in earlier])

        async def call() -> dict[str, Any]:
            outcome = {"task_id": task_id, "task": pair["task"], "agent": pair["agent"]}
            try:
                agent = await services.definition(ctx.app_id, pair["agent"])
                result = await run_agent(
                    ctx,
                    agent,
                    [],
                    prompt,
                    scope=f"orchestrator.{task_id}",
                    services=services,
                    transcript=False,
                )
            except (LeaseLost, RunCancelled):
                raise  # the run is no longer this worker's to record anything in
            except Exception as exc:  # the task failed; the others go on
                message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                return {**outcome, "status": "failed", "answer": None, "error": message}
            return {**outcome, "status": "completed", "answer": result.text, "error": None}

        recorded: dict[str, Any] = await ctx.step(
            f"orchestrator.task.{task_id}", call, timeout=ctx.settings.call_timeout_seconds
        )
        return recorded

    outcomes = await gather_or_cancel([run_task(task_id) for task_id in batches[index]])
    ctx.emit(events.BATCH_COMPLETED, {"batch": index, "results": outcomes})
    return {
        "results": {outcome["task_id"]: outcome for outcome in outcomes},
        "batch_index": index + 1,
        "execution_done": index + 1 >= len(batches),
    }


def _task_prompt(pair: dict[str, Any], before: list[dict[str, Any]]) -> str:
    if not before:
        return str(pair["task"])
    lines = [str(pair["task"]), "", "What the earlier tasks found:"]
    for result in before:
        answer = str(result.get("answer") or result.get("error") or "")[:MAX_CONTEXT_CHARS]
        lines.append(f"- {result['task']} ({result['agent']}): {answer}")
    return "\n".join(lines)


async def aggregate(ctx: Context) -> dict[str, Any]:
    """The final answer: what each agent did, in the plan's order, and what was left out."""
    results: dict[str, dict[str, Any]] = ctx.state.get("results") or {}
    batches: list[list[str]] = (ctx.state.get("plan") or {}).get("batches") or []
    batch_of = {tid: number for number, batch in enumerate(batches) for tid in batch}
    pairs = []
    for pair in ctx.state.get("task_agent_pairs") or []:
        result = results.get(pair["task_id"], {})
        pairs.append(
            {
                **pair,
                "batch": batch_of.get(pair["task_id"]),
                "status": result.get("status", "not_run"),
                "answer": result.get("answer"),
                "error": result.get("error"),
            }
        )
    left_out = [
        task["text"] for task in _tasks(ctx) if task["id"] in (ctx.state.get("unmatched") or [])
    ]
    final = final_response(pairs, left_out, list(ctx.state.get("skipped") or []))
    ctx.emit(events.COMPLETED, {"final_response": final, "task_agent_pairs": pairs})
    ctx.emit(
        names.MESSAGE_CREATED,
        {"role": "assistant", "content": final, "agent": "orchestrator", "node_id": ctx.node_id},
    )
    return {"final_response": final, "task_agent_pairs": pairs}


def final_response(pairs: list[dict[str, Any]], left_out: list[str], skipped: list[str]) -> str:
    """One line per task: the task, the agent that did it and its answer; then the tasks
    left out."""
    if not pairs:
        lines = ["No agent in this app could do this request."]
    else:
        agents = sorted({pair["agent"] for pair in pairs})
        lines = [f"{len(pairs)} task(s) done by {', '.join(agents)}:"]
    for number, pair in enumerate(pairs, 1):
        if pair["status"] == "completed":
            lines.append(f"{number}. {pair['task']} — {pair['agent']}: {pair['answer']}")
        else:
            reason = pair.get("error") or "it did not run"
            lines.append(f"{number}. {pair['task']} — {pair['agent']} failed: {reason}")
    for text in left_out:
        lines.append(f"Left out (no agent can do it): {text}")
    for text in skipped:
        lines.append(f"Left out, as you asked: {text}")
    return "\n".join(lines)
