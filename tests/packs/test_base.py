"""What `@subscribe` matches."""

from __future__ import annotations

import pytest

from podium.packs.base import matches


@pytest.mark.parametrize(
    ("wanted", "event_type", "expected"),
    [
        (("lead.submitted",), "lead.submitted", True),
        (("lead.submitted",), "lead.analyzed", False),
        (("lead.*",), "lead.analyzed", True),
        (("lead.*",), "leads.analyzed", False),
        (("*",), "run.succeeded", True),
        (("run.failed", "lead.*"), "run.failed", True),
    ],
)
def test_matches(wanted: tuple[str, ...], event_type: str, expected: bool) -> None:
    assert matches(wanted, event_type) is expected
