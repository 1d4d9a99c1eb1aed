"""What `@subscribe` matches; where a pack's routes are mounted; which WebSocket message
types a pack may answer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter
from tests.api.conftest import api_settings

from podium.api.app import create_app
from podium.api.routes.packs import app_route_segments
from podium.assembly import install_packs
from podium.engine.registry import Registry
from podium.errors import InvalidInput
from podium.packs.base import Pack, PackSocketRequest, matches
from podium.packs.loader import PackLoadError


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


def test_a_pack_mounts_under_packs_unless_it_asks_for_the_apps_root() -> None:
    assert Pack(name="guestbook").route_prefix == "/apps/{app_id}/packs/guestbook"
    assert Pack(name="orders", mount_at_app_root=True).route_prefix == "/apps/{app_id}/orders"


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return router


def test_a_pack_at_the_apps_root_may_not_take_a_core_routes_place() -> None:
    registry = Registry()  # the app is only built here, not started
    install_packs(registry, [Pack(name="agents", router=_router(), mount_at_app_root=True)])
    settings = api_settings("sqlite:///unused.db")
    with pytest.raises(PackLoadError) as refused:
        create_app(settings, registry=registry)
    assert refused.value.message == (
        "pack 'agents' asks to mount its routes at /apps/{app_id}/agents, which the core API "
        "uses already; rename the pack or set mount_at_app_root=False (its routes then live "
        "under /packs/)"
    )

    other = Registry()
    install_packs(other, [Pack(name="orders", router=_router(), mount_at_app_root=True)])
    assert "orders" in app_route_segments(create_app(settings, registry=other), "/api/v1")


async def _reply(request: PackSocketRequest) -> tuple[str, Any]:
    return "orders.done", {}


def test_a_packs_websocket_types_are_its_name_and_an_action() -> None:
    assert set(Pack(name="orders", socket_handlers={"orders.start": _reply}).socket_handlers) == {
        "orders.start"
    }
    for kind in ("start", "other.start", "orders.", "ordersx.start"):
        with pytest.raises(InvalidInput, match="must be the pack's name, a dot and an action"):
            Pack(name="orders", socket_handlers={kind: _reply})
