"""`within_cap`: what an engine event leaves out to stay within PODIUM_MAX_EVENT_BYTES."""

from __future__ import annotations

from podium.storage.event_bounds import data_bytes, run_url, within_cap

READ = run_url("app_1", "run_1")


def test_data_within_the_cap_is_written_as_it_is() -> None:
    data = {"output": {"text": "small"}}
    assert within_cap(data, 1_000, READ) is data
    assert within_cap(data, None, READ) is data


def test_a_large_output_is_replaced_by_a_marker_saying_its_size_and_where_to_read_it() -> None:
    output = {"text": "x" * 5_000}
    bounded = within_cap({"output": output}, 1_000, READ)
    assert bounded == {
        "output_omitted": True,
        "output_bytes": data_bytes(output),
        "read": "GET /api/v1/apps/app_1/runs/run_1",
    }


def test_the_largest_values_go_first_and_the_others_stay() -> None:
    data = {"node_id": "ask", "question": "q" * 3_000, "choices": ["c" * 500], "step": 2}
    bounded = within_cap(data, 1_000, READ)
    assert bounded["question_omitted"] is True and "question" not in bounded
    assert bounded["choices"] == ["c" * 500]  # small enough once the question is out
    assert (bounded["node_id"], bounded["step"]) == ("ask", 2)
    both = within_cap(data, 300, READ)
    assert both["question_omitted"] and both["choices_omitted"] and data_bytes(both) <= 300
