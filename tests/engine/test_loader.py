"""Reading flows from JSON and YAML files: one clear line per problem."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from podium.engine.flow import Flow
from podium.engine.loader import parse_flow, read_flow_file
from podium.errors import FlowInvalid, InvalidInput

FLOW: dict[str, Any] = {
    "name": "lead_intake",
    "version": 2,
    "state": {"reducers": {"messages": "append", "profile": "merge"}},
    "nodes": [
        {"id": "ask", "type": "human", "config": {"question": "Budget?", "output_key": "budget"}},
        {
            "id": "route",
            "type": "router",
            "config": {
                "rules": [{"field": "state.budget", "operator": ">", "value": 70, "target": "big"}],
                "default": "small",
            },
        },
        {"id": "big", "type": "template", "config": {"template": "Call {{ name }}"}},
        {"id": "small", "type": "output", "config": {"keys": ["budget"]}},
    ],
    "edges": [
        {"source": "ask", "target": "route"},
        {"source": "route", "target": "big"},
        {"source": "route", "target": "small"},
    ],
}

YAML = """\
name: lead_intake
version: 2
state:
  reducers: {messages: append, profile: merge}
nodes:
  - {id: ask, type: human, config: {question: "Budget?", output_key: budget}}
  - id: route
    type: router
    config:
      rules:
        - {field: state.budget, operator: ">", value: 70, target: big}
      default: small
  - {id: big, type: template, config: {template: "Call {{ name }}"}}
  - {id: small, type: output, config: {keys: [budget]}}
edges:
  - {source: ask, target: route}
  - {source: route, target: big}
  - {source: route, target: small}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_a_json_file(tmp_path: Path) -> None:
    flow, graph = read_flow_file(write(tmp_path, "lead.json", json.dumps(FLOW, indent=2)))
    assert flow == Flow.model_validate(FLOW)
    assert flow.name == "lead_intake" and flow.version == 2
    assert graph.flow is flow
    assert graph.order == ["ask", "route", "big", "small"]
    assert graph.base_path == tmp_path.resolve()


@pytest.mark.parametrize("name", ["lead.yaml", "lead.yml", "LEAD.YAML"])
def test_reads_the_same_flow_from_yaml(tmp_path: Path, name: str) -> None:
    flow, _graph = read_flow_file(str(write(tmp_path, name, YAML)))
    assert flow == Flow.model_validate(FLOW)


def test_bad_json_says_where(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{\n  "name": "f",\n  "nodes": [,]\n}')
    with pytest.raises(InvalidInput) as info:
        read_flow_file(path)
    assert info.value.message == (f"{path}: not valid JSON (line 3, column 13: Expecting value)")


def test_bad_yaml_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "name: f\nnodes: [a, b\n")
    with pytest.raises(InvalidInput) as info:
        read_flow_file(path)
    assert info.value.message.startswith(f"{path}: not valid YAML (")
    assert "line 3" in info.value.message


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"
    with pytest.raises(InvalidInput) as info:
        read_flow_file(path)
    assert info.value.message == f"flow file {str(path)!r} does not exist"
    assert info.value.code == "invalid_input"


def test_a_directory_is_not_a_flow_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        read_flow_file(tmp_path)
    assert info.value.message.startswith(f"cannot read flow file {str(tmp_path)!r}: ")


@pytest.mark.parametrize(
    ("name", "text"),
    [("list.json", "[1, 2]"), ("string.json", '"flow"'), ("empty.yaml", ""), ("list.yml", "- a")],
)
def test_a_document_that_is_not_an_object(tmp_path: Path, name: str, text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        read_flow_file(write(tmp_path, name, text))
    assert info.value.message == f"{name}: a flow is a JSON object with name, nodes and edges"


# fmt: off
SCHEMA_CASES = {
    "missing nodes": ({"name": "f"}, "f", ["nodes: Field required"]),
    "missing name": ({"nodes": []}, "x.json", ["name: Field required"]),
    "empty name": (
        {"name": "", "nodes": []}, "", ["name: String should have at least 1 character"]
    ),
    "node fields": (
        {"name": "f", "nodes": [
            {"id": "a", "type": "output", "join": "some"},
            {"id": "b", "type": "output", "on_error": "retry", "retry": {"max_attempts": 0}},
            {"type": "output"},
        ]},
        "f",
        ["nodes.0.join: Input should be 'any' or 'all'",
         "nodes.1.on_error: Input should be 'fail' or 'continue'",
         "nodes.1.retry.max_attempts: Input should be greater than or equal to 1",
         "nodes.2.id: Field required"],
    ),
    "edge fields": (
        {"name": "f", "nodes": [], "edges": [
            {"source": "a"},
            {"source": "a", "target": "b", "max_iterations": 0},
            {"source": "a", "target": "b", "condition": {"field": "x", "op": "=="}},
        ]},
        "f",
        ["edges.0.target: Field required",
         "edges.1.max_iterations: Input should be greater than or equal to 1",
         "edges.2.condition.op: Extra inputs are not permitted"],
    ),
    "limits": (
        {"name": "f", "nodes": [], "limits": {"max_steps": 0, "wall": 1}},
        "f",
        ["limits.max_steps: Input should be greater than or equal to 1",
         "limits.wall: Extra inputs are not permitted"],
    ),
}
# fmt: on


@pytest.mark.parametrize(
    ("data", "flow_name", "expected"), SCHEMA_CASES.values(), ids=list(SCHEMA_CASES)
)
def test_schema_errors_become_problems_with_a_location(
    data: dict[str, Any], flow_name: str, expected: list[str]
) -> None:
    with pytest.raises(FlowInvalid) as info:
        parse_flow(data, source="x.json")
    assert info.value.flow_name == flow_name
    assert info.value.problems == expected


def test_schema_errors_from_a_file_name_the_file_when_the_flow_has_no_name(
    tmp_path: Path,
) -> None:
    with pytest.raises(FlowInvalid) as info:
        read_flow_file(write(tmp_path, "unnamed.json", '{"nodes": []}'))
    assert info.value.flow_name == "unnamed.json"
    assert info.value.problems == ["name: Field required"]


def test_compile_problems_come_from_the_file_too(tmp_path: Path) -> None:
    data = {"name": "f", "nodes": [{"id": "a", "type": "llm"}], "edges": []}
    with pytest.raises(FlowInvalid) as info:
        read_flow_file(write(tmp_path, "f.json", json.dumps(data)))
    assert info.value.problems == [
        "node 'a' has unknown type 'llm' (known types: human, output, python, router, template)"
    ]


def test_an_editors_extra_keys_are_kept(tmp_path: Path) -> None:
    data = json.loads(json.dumps(FLOW))
    data["viewport"] = {"x": 0, "y": 10, "zoom": 1.5}
    data["nodes"][0]["position"] = {"x": 100, "y": 200}
    data["nodes"][0]["config"]["placeholder"] = "e.g. 10k"
    data["edges"][0]["label"] = "next"
    flow, _graph = read_flow_file(write(tmp_path, "edited.json", json.dumps(data)))
    definition = flow.definition()
    assert definition["viewport"] == {"x": 0, "y": 10, "zoom": 1.5}
    assert definition["nodes"][0]["position"] == {"x": 100, "y": 200}
    assert definition["nodes"][0]["config"]["placeholder"] == "e.g. 10k"
    assert definition["edges"][0]["label"] == "next"
    assert Flow.model_validate(json.loads(json.dumps(definition))) == flow


def test_python_functions_are_imported_from_the_flow_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "loader_test_nodes_5b1e.py").write_text(
        "async def hello(ctx):\n    return {'greeting': 'hi'}\n", encoding="utf-8"
    )
    data = {
        "name": "f",
        "nodes": [
            {"id": "a", "type": "python", "config": {"function": "loader_test_nodes_5b1e:hello"}},
            {"id": "b", "type": "python", "config": {"function": "loader_test_nodes_5b1e:bye"}},
        ],
    }
    with pytest.raises(FlowInvalid) as info:
        read_flow_file(write(tmp_path, "f.json", json.dumps(data)))
    assert info.value.problems == [
        "node 'b': cannot import 'loader_test_nodes_5b1e:bye': loader_test_nodes_5b1e has no 'bye'"
    ]
