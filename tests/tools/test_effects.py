"""A tool's declared effect (docs/side-effects.md): what `@tool` accepts and refuses."""

from __future__ import annotations

from typing import Any

import pytest

from podium.effects import idempotency_key
from podium.tools.base import tool


async def _pay(amount: int) -> int:
    """Pay."""
    return amount


def test_a_tool_declares_its_effect_and_undeclared_is_none() -> None:
    assert tool(registry=None)(_pay).effect is None
    effects: tuple[Any, ...] = ("read", "idempotent", "side_effect")
    for effect in effects:
        assert tool(effect=effect, registry=None)(_pay).effect == effect


def test_an_unknown_effect_is_refused() -> None:
    with pytest.raises(ValueError, match="effect 'write' must be one of read, idempotent, side"):
        tool(effect="write", registry=None)(_pay)  # type: ignore[call-overload]


def test_reconcile_is_for_side_effects_only() -> None:
    with pytest.raises(ValueError, match="reconcile is for effect='side_effect' only"):
        tool(effect="idempotent", reconcile=lambda a, k: None, registry=None)(_pay)
    made = tool(effect="side_effect", reconcile=lambda a, k: None, registry=None)(_pay)
    assert made.reconcile is not None


def test_the_idempotency_key_is_stable_per_call_and_differs_between_calls() -> None:
    key = idempotency_key("run_1", "pay", 0, "payer.t1.0")
    assert key == idempotency_key("run_1", "pay", 0, "payer.t1.0")
    assert key.startswith("pdm-") and len(key) == 44
    others = {
        idempotency_key("run_2", "pay", 0, "payer.t1.0"),
        idempotency_key("run_1", "pay2", 0, "payer.t1.0"),
        idempotency_key("run_1", "pay", 1, "payer.t1.0"),
        idempotency_key("run_1", "pay", 0, "payer.t1.1"),
    }
    assert key not in others and len(others) == 4
