"""The README's workflow examples, replayed against a live `podium serve` with no model
configured (every agent on the built-in `offline/echo`): each runs to `succeeded` with an
output that makes sense for its pattern.

The examples are read from README.md's "## Workflows" section — the ```` ```sh ```` blocks
that `curl` `/workflows/execute` — and their JSON bodies parsed out of the text, so that
editing the README changes what this test runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.api.live import ROOT, LiveServer, create_admin, login, server_env

from podium.agents.messages import MAX_CONTENT_BYTES
from podium.llm.offline import lead_score

README = ROOT / "README.md"
DOCUMENTED_API = "http://127.0.0.1:8000/api/v1"


@dataclass(frozen=True)
class Example:
    path: str  # under /api/v1, with $APP still in it
    body: dict[str, Any]


def workflow_examples(readme: str) -> list[Example]:
    """The `curl … -d '{…}'` requests of the README's "## Workflows" section, in order."""
    match = re.search(r"^## Workflows\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    assert match, "README.md has no '## Workflows' section"
    examples = []
    for block in re.findall(r"^```sh\n(.*?)^```$", match.group(1), re.S | re.M):
        if "curl" not in block:
            continue
        url = re.search(re.escape(DOCUMENTED_API) + r"(/\S+)", block)
        data = re.search(r"-d '(.*?)'", block, re.S)
        assert url and data, f"a curl block without a URL or a -d '…' body:\n{block}"
        examples.append(Example(url.group(1), json.loads(data.group(1))))
    return examples


def test_the_section_has_an_example_of_each_pattern() -> None:
    examples = workflow_examples(README.read_text())
    assert all(e.path == "/apps/$APP/workflows/execute" for e in examples), examples
    types = [e.body["workflow_type"] for e in examples]
    assert sorted(types) == ["collaborative", "conditional", "sequential"], types


def test_the_parser_reads_a_body_across_lines_and_names_a_broken_block() -> None:
    readme = (
        "## Workflows\n\n```sh\ncurl -s http://127.0.0.1:8000/api/v1/apps/$APP/workflows/execute"
        ' \\\n  -d \'{"workflow_type": "sequential",\n    "input_data": {"message": "hi"}}\'\n```\n'
        "\n## Next\n\n```sh\ncurl -s http://127.0.0.1:8000/api/v1/apps/$APP/other -d '{}'\n```\n"
    )
    assert workflow_examples(readme) == [
        Example(
            "/apps/$APP/workflows/execute",
            {"workflow_type": "sequential", "input_data": {"message": "hi"}},
        )
    ]
    with pytest.raises(AssertionError, match="without a URL or a -d"):
        workflow_examples("## Workflows\n\n```sh\ncurl -s http://example.test/x\n```\n")


def holds(rule: dict[str, Any], metadata: dict[str, Any]) -> bool:
    """A README routing rule over the metadata (the operators the README uses)."""
    value = metadata
    for part in rule["field"].removeprefix("metadata.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    comparisons = {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    assert rule["operator"] in comparisons, f"extend this test for {rule['operator']!r}"
    return value is not None and bool(comparisons[rule["operator"]](value, rule["value"]))


def expected_route(body: dict[str, Any], metadata: dict[str, Any]) -> str | None:
    for condition in body["workflow_config"]["routing_rules"]["conditions"]:
        if "default" in condition:
            default = condition["default"]
            continue
        if holds(condition, metadata):
            return str(condition["next_agent"])
    return default


class Replay:
    def __init__(self, server: LiveServer, token: str, app: str) -> None:
        self.server, self.token, self.app = server, token, app

    def get(self, path: str) -> Any:
        return self.server.call("GET", f"/apps/{self.app}{path}", None, self.token)

    def run(self, example: Example) -> dict[str, Any]:
        """POST the example as the README does; the finished workflow."""
        path = example.path.replace("$APP", self.app)
        status, started = self.server.request("POST", path, example.body, self.token)
        assert status == 201, (example.body, status, started)
        run_id = started["workflow_id"]
        waited = self.get(f"/runs/{run_id}/wait?timeout=60")
        assert waited["status"] not in ("queued", "running"), waited
        workflow: dict[str, Any] = self.get(f"/workflows/{run_id}")
        assert workflow["status"] == "succeeded", (example.body, workflow["error"])
        return workflow


def check_sequential(replay: Replay, body: dict[str, Any], workflow: dict[str, Any]) -> None:
    agents = workflow["participating_agents"]
    assert agents == ["chat", "recommendations", "lead_qualification"]  # the defaults
    output = workflow["output"]
    assert set(output) == {f"{a}_answer" for a in agents[:-1]} | {"answer"}
    message = body["input_data"]["message"]
    # Each agent worked on the request and on the previous agent's answer.
    assert message in output["chat_answer"]
    assert output["recommendations_answer"].count(message) == 2
    assert "recommendations answered:" in output["answer"]


def check_conditional(replay: Replay, body: dict[str, Any], workflow: dict[str, Any]) -> None:
    output = workflow["output"]
    message = body["input_data"]["message"]
    assert output["metadata"] == {"lead_score": lead_score(message)}
    target = expected_route(body, output["metadata"])
    drawing = replay.get(f"/workflows/{workflow['workflow_id']}/visualization")
    statuses = {node["id"]: node["status"] for node in drawing["nodes"]}
    targets = {c.get("next_agent") or c.get("default") for c in
               body["workflow_config"]["routing_rules"]["conditions"]}  # fmt: skip
    assert target in targets
    assert statuses[target] == "succeeded", statuses
    assert all(statuses[other] == "skipped" for other in targets - {target}), statuses
    # The agent routed to answered the request, with what the classifier noted.
    assert output["answer"].startswith(message) and "lead_qualification noted:" in output["answer"]


def check_collaborative(replay: Replay, body: dict[str, Any], workflow: dict[str, Any]) -> None:
    output = workflow["output"]
    discussion = output["collaboration"]
    agents = workflow["participating_agents"]
    assert agents == ["chat", "web_development", "digital_marketing"]  # the defaults
    assert discussion["ended_by"] == "round_limit"  # the echo model never hands off
    assert [t["agent"] for t in discussion["transcript"]] == agents * 3
    assert output["answer"].startswith("No agent handed off within 3 rounds.")
    assert body["input_data"]["message"] in output["answer"]
    messages = replay.get(f"/runs/{workflow['workflow_id']}/messages?limit=500")["items"]
    assert len(messages) == 9  # each turn's answer, sent on to the next agent
    sizes = [len(json.dumps(m["content"]).encode()) for m in messages]
    assert max(sizes) < MAX_CONTENT_BYTES, sizes


CHECKS = {
    "sequential": check_sequential,
    "conditional": check_conditional,
    "collaborative": check_collaborative,
}


@pytest.mark.slow
def test_each_readme_workflow_succeeds_on_a_fresh_server_with_no_model(tmp_path: Path) -> None:
    examples = workflow_examples(README.read_text())
    db = tmp_path / "podium.db"
    env = server_env()
    create_admin(db, env)
    server = LiveServer(db, env).start()
    try:
        token = login(server)
        app = server.call("POST", "/apps", {"name": "readme-workflows"}, token)["id"]
        replay = Replay(server, token, app)
        assert replay.get("/agents/health")["default_model"] == "offline/echo"  # no model
        for example in examples:
            workflow = replay.run(example)
            CHECKS[example.body["workflow_type"]](replay, example.body, workflow)
        # The README says a greeting goes the other way: the same request, another message.
        conditional = next(e for e in examples if e.body["workflow_type"] == "conditional")
        hello = Example(conditional.path, conditional.body | {"input_data": {"message": "Hello"}})
        workflow = replay.run(hello)
        check_conditional(replay, hello.body, workflow)
        assert expected_route(hello.body, workflow["output"]["metadata"]) == "chat"
        assert expected_route(conditional.body, {"lead_score": 80}) == "web_development"
    finally:
        server.stop()
    assert "Traceback" not in server.output(), server.output()
