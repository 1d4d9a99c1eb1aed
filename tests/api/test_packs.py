"""`/apps/{app_id}/packs`: listing, enabling and disabling installed packs per app, and the
refusals a user sees (unknown pack, a member who is not an admin, a name too long), with
nothing stored; and the mount's checks on a pack's own routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import Actor, add_member, api_settings

from podium.config import Settings

EXAMPLE_PACK = Path(__file__).parents[2] / "examples" / "guestbook"


@pytest.fixture
def api_config(database_url: str) -> Settings:
    return api_settings(database_url, packs=[str(EXAMPLE_PACK)])


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


def guestbook(owner: Actor, base: str) -> dict[str, Any]:
    """The example pack's entry (shipped packs are listed too)."""
    packs = owner.get(f"{base}/packs").json()
    found: dict[str, Any] = next(pack for pack in packs if pack["name"] == "guestbook")
    return found


def test_listing_enabling_and_disabling(make_user: Any) -> None:
    alice = make_user("alice")
    base = f"/api/v1/apps/{alice.create_app('mine')}"
    assert guestbook(alice, base) == {
        "name": "guestbook",
        "description": "Sign a guestbook: a table, routes, a flow, a gate and event handlers.",
        "enabled": False,
        "flows": ["guestbook_sign", "guestbook_thanks"],
        "agents": [],
        "handlers": [
            {"name": "greet", "event_types": ["guestbook.signed"]},
            {"name": "moderate", "event_types": ["guestbook.signed"]},
        ],
        "routes": True,
        "tables": True,
        "workflow_graph": True,
    }
    assert alice.client.put(f"{base}/packs/guestbook", headers=alice.headers).status_code == 200
    # Enabling again is the same (flows keep their version, the graph is replaced).
    again = alice.client.put(f"{base}/packs/guestbook", headers=alice.headers)
    assert (again.status_code, again.json()["enabled"]) == (200, True)
    flows = {f["name"]: f for f in alice.get(f"{base}/flows").json()}
    assert flows["guestbook_sign"]["version"] == 1
    assert [g["name"] for g in alice.get(f"{base}/workflow-graphs").json()] == ["guestbook"]
    handlers = alice.get(f"{base}/packs/guestbook/handlers").json()
    assert [h["name"] for h in handlers["handlers"]] == ["greet", "moderate"]
    assert handlers["failures"] == []

    assert alice.delete(f"{base}/packs/guestbook").status_code == 204
    assert guestbook(alice, base)["enabled"] is False
    assert alice.get(f"{base}/workflow-graphs").json() == []  # its gates no longer apply
    assert alice.delete(f"{base}/packs/guestbook").status_code == 204  # idempotent


def test_refusals_say_what_to_do_and_store_nothing(make_user: Any) -> None:
    alice, mallory = make_user("alice"), make_user("mallory")
    app_id = alice.create_app("mine")
    base = f"/api/v1/apps/{app_id}"

    unknown = alice.client.put(f"{base}/packs/nope", headers=alice.headers)
    status, code, message = error(unknown)
    assert (status, code) == (404, "not_found")
    assert message.startswith("no pack named 'nope' is installed (installed: ")
    assert "guestbook" in message
    assert message.endswith(
        "the operator installs packs with PODIUM_PACKS or the podium.packs entry points"
    )
    assert error(alice.get(f"{base}/packs/nope/handlers"))[0] == 404
    too_long = alice.client.put(f"{base}/packs/{'x' * 33}", headers=alice.headers)
    assert too_long.status_code == 422, too_long.text

    add_member(alice, base, mallory, "member")
    refused = mallory.client.put(f"{base}/packs/guestbook", headers=mallory.headers)
    assert refused.status_code == 403, refused.text
    assert error(refused)[1] == "forbidden"
    assert error(mallory.delete(f"{base}/packs/guestbook"))[0] == 403
    assert error(mallory.get(f"{base}/packs/guestbook/handlers"))[0] == 403
    assert guestbook(alice, base)["enabled"] is False
    assert alice.get(f"{base}/workflow-graphs").json() == []

    # The pack's routes: not enabled → 404 saying how; enabled → members only, bodies checked.
    gone = mallory.post(f"{base}/packs/guestbook/entries", {"name": "m", "message": "x"})
    assert error(gone) == (
        404,
        "not_found",
        f"pack 'guestbook' is not enabled for this app; PUT /api/v1/apps/{app_id}/packs/guestbook",
    )
    assert alice.client.put(f"{base}/packs/guestbook", headers=alice.headers).status_code == 200
    bad = mallory.post(f"{base}/packs/guestbook/entries", {"name": "m", "message": "x", "x": 1})
    assert bad.status_code == 422, bad.text
    assert mallory.get(f"{base}/packs/guestbook/entries").json() == []
    stranger = make_user("stranger")
    outside = stranger.get(f"{base}/packs/guestbook/entries")
    assert error(outside)[:2] == (404, "not_found")
