"""The journeys `podium demo` walks, and the demo from start to end (`run_demo`)."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from podium.cli_display import display_url, make_console
from podium.config import Settings
from podium.demo.server import (
    DemoFailed,
    EmbeddedServer,
    demo_settings,
    with_shipped_packs,
)
from podium.demo.view import DemoView, EventStream
from podium.engine.registry import Registry
from podium.events import names

INDENT = " " * 10
WAIT_SECONDS = 30.0  # for one run to end or one event to come: generous on a loaded machine
IDEA = {"app_name": "ShopFlow", "idea": "a shop with payments, reviews and search"}
LEAD = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "company": "Analytical Engines Ltd",
    "message": "We need an online store with payments within three months.",
    "service": "ecommerce",
    "budget": 40000,
}


class DemoClient:
    """The demo's HTTP calls under /api/v1, as the app's owner; a refusal is DemoFailed."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.app_id = ""

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        path = path.format(app=f"/apps/{self.app_id}")
        reply = await self.http.request(method, path, json=body)
        if reply.status_code >= 300:
            raise DemoFailed(f"{method} /api/v1{path} answered {reply.status_code}: {reply.text}")
        return reply.json() if reply.content else None


async def run_ended(stream: EventStream, run_id: str, flow: str) -> dict[str, Any]:
    """The run's outcome event, as it streams in; DemoFailed unless it succeeded."""

    def ends(event: dict[str, Any]) -> bool:
        return event.get("run_id") == run_id and event["type"] in names.RUN_OUTCOMES

    outcome = await stream.wait_for(ends, f"end of the {flow} run {run_id}", WAIT_SECONDS)
    if outcome["type"] != names.RUN_SUCCEEDED:
        raise DemoFailed(f"the {flow} run {run_id} ended {outcome['type']}: {outcome['data']}")
    return outcome


async def appbuilder_journey(client: DemoClient, stream: EventStream, view: DemoView) -> None:
    """AppBuilder, then its artifact's "View Revenue" button: RevenueDashboard."""
    view.title("AppBuilder → RevenueDashboard  (pack appbuilder)")
    view.step(f"POST /sessions  flow AppBuilder, input {json.dumps(IDEA)}")
    session = await client.call("POST", "{app}/sessions", {"flow": "AppBuilder", "input": IDEA})
    view.runs[session["run_id"]] = "AppBuilder"
    await run_ended(stream, session["run_id"], "AppBuilder")
    found = await client.call("GET", f"{{app}}/artifacts?session_id={session['id']}")
    if not found["items"]:
        raise DemoFailed(f"the AppBuilder session {session['id']} made no artifact")
    artifact = found["items"][0]
    buttons = [b for b in artifact["state"].get("buttons", []) if isinstance(b, dict)]
    button = next((b for b in buttons if b.get("workflow") == "RevenueDashboard"), None)
    if button is None:
        raise DemoFailed(f"the AppBuilder artifact has no RevenueDashboard button: {buttons}")
    label = button.get("label") or button.get("text") or "RevenueDashboard"
    view.step(f'click "{label}" on {artifact["type"]}: launch_workflow RevenueDashboard')
    action = {"action": "launch_workflow", "payload": {"workflow": "RevenueDashboard"}}
    launched = await client.call("POST", f"{{app}}/artifacts/{artifact['id']}/actions", action)
    view.runs[launched["run_id"]] = "RevenueDashboard"
    outcome = await run_ended(stream, launched["run_id"], "RevenueDashboard")
    dashboard_id = (outcome["data"].get("output") or {}).get("artifact_id")
    if dashboard_id:
        dashboard = await client.call("GET", f"{{app}}/artifacts/{dashboard_id}")
        apps = ", ".join(f"{a['name']} {a['revenue']:g}" for a in dashboard["state"]["apps"])
        total = dashboard["state"]["total_revenue"]
        view.note(f"{INDENT}RevenueDashboard {dashboard_id}: {apps}; total {total:g}")


async def leads_journey(client: DemoClient, stream: EventStream, view: DemoView) -> None:
    """A lead from the contact form, then its analysis."""
    view.title("Lead submit → analyze  (pack leads)")
    leads = "{app}/packs/leads/leads"
    view.step(f"POST /packs/leads/leads  {LEAD['name']} <{LEAD['email']}>, {LEAD['service']}")
    lead = await client.call("POST", leads, LEAD)
    await stream.wait_for(
        lambda e: e["type"] == "lead.submitted" and e["data"].get("lead_id") == lead["id"],
        "lead.submitted",
        WAIT_SECONDS,
    )
    view.step(f"POST /packs/leads/leads/{lead['id']}/analyze")
    started = await client.call("POST", f"{leads}/{lead['id']}/analyze?wait=0")
    view.runs[started["run_id"]] = "leads_qualify"
    await run_ended(stream, started["run_id"], "leads_qualify")
    analyzed = await stream.wait_for(
        lambda e: e["type"] == "lead.analyzed" and e["data"].get("lead_id") == lead["id"],
        "lead.analyzed",
        WAIT_SECONDS,
    )
    await handlers_past(client, "leads", analyzed["seq"])
    found = await client.call("GET", f"{leads}/{lead['id']}")
    view.note(f"{INDENT}lead {lead['id']}: score {found['score']}/100, tier {found['tier']}")
    for factor in found.get("reasoning") or []:
        points = f"{factor['points']}/{factor['max']}"
        view.note(f"{INDENT}  {points:>5}  {factor['factor']}: {factor['why']}")
    for kind, done in sorted((found.get("followups") or {}).items()):
        why = done.get("reason") or done.get("error") or ""
        view.note(f"{INDENT}follow-up {kind}: {done.get('status')}" + (f" ({why})" if why else ""))


async def handlers_past(client: DemoClient, pack: str, seq: int) -> None:
    """Wait until each of the pack's event handlers is done with the log up to `seq`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        state = await client.call("GET", f"{{app}}/packs/{pack}/handlers")
        if all((handler["last_seq"] or 0) >= seq for handler in state["handlers"]):
            return
        if time.monotonic() > deadline:
            raise DemoFailed(f"the {pack} pack's handlers did not reach event {seq}: {state}")
        await asyncio.sleep(0.05)


Journey = Callable[[DemoClient, EventStream, DemoView], Awaitable[None]]
JOURNEYS: tuple[Journey, ...] = (
    appbuilder_journey,
    leads_journey,
)


@dataclass(frozen=True)
class Tour:
    """What a demo shows: the packs it enables (name → module) and the journeys it walks."""

    packs: Mapping[str, str]
    journeys: tuple[Journey, ...]


async def walk(
    server: EmbeddedServer, tour: Tour, username: str, password: str, view: DemoView
) -> None:
    """Sign in, make the demo app, enable the shipped packs, and walk the journeys."""
    async with httpx.AsyncClient(base_url=f"{server.origin}/api/v1", timeout=60) as http:
        client = DemoClient(http)
        signed_in = await client.call(
            "POST", "/auth/login", {"identifier": username, "password": password}
        )
        http.headers["Authorization"] = f"Bearer {signed_in['access_token']}"
        app = await client.call("POST", "/apps", {"name": username})
        client.app_id = app["id"]
        for name in tour.packs:
            enabled = await client.call("PUT", f"{{app}}/packs/{name}")
            view.step(f"PUT /packs/{name}  enabled: flows {', '.join(enabled['flows'])}")
        flows = await client.call("GET", "{app}/flows")
        view.flows.update({flow["id"]: flow["name"] for flow in flows})
        stream = EventStream(http, client.app_id, view)
        await stream.open()
        try:
            for journey in tour.journeys:
                await journey(client, stream, view)
        finally:
            await stream.close()


def run_demo(
    settings: Settings,
    database_url: str | None,
    assemble: Callable[[Settings], Registry],
    create_app: Callable[..., Any],
    tour: Tour,
    pause_seconds: float = 0.0,
) -> None:
    """The whole demo: the embedded server up, the journeys (after `pause_seconds`), the
    server down (also on Ctrl-C), the throwaway database removed. `assemble` and
    `create_app` are the composition root's (`podium.assembly`), handed down by the CLI, and
    so are the shipped packs `tour` enables (`Tour(SHIPPED_PACKS, JOURNEYS)`)."""
    began = time.perf_counter()
    console = make_console()
    # The packs first: one that cannot be loaded stops the demo before anything is made.
    offline = demo_settings(settings, "sqlite://")
    settings, registry = with_shipped_packs(offline, assemble, tour.packs)
    throwaway = None if database_url else Path(tempfile.mkdtemp(prefix="podium-demo-"))
    url = database_url or f"sqlite:///{throwaway}/demo.db"
    settings = settings.model_copy(update={"database_url": url})
    where = f"{throwaway}/demo.db (throwaway)" if throwaway else display_url(url)
    view = DemoView(console, began)
    server = EmbeddedServer(settings, None)
    # A spinner under the lines on a terminal (nothing when the output is piped).
    with console.status("starting the embedded server…") as status:
        view.status = status
        try:
            server.app = create_app(settings, registry=registry)
            server.start()
            console.print(
                f"podium demo: an embedded `podium serve` at {server.origin}\n"
                f"  database {where}\n"
                f"  model {settings.default_model} (built in: no model server, no configuration)",
                markup=False,
            )
            # A user and an app of its own each time (both named so): a database kept with
            # --db holds the earlier ones, and names are unique on a server.
            username, password = f"demo-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
            server.create_user(username, password)
            if pause_seconds > 0:
                status.update(f"the server is up; the journeys start in {pause_seconds:g} s…")
                time.sleep(pause_seconds)
            asyncio.run(walk(server, tour, username, password, view))
        except (httpx.HTTPError, TimeoutError, RuntimeError) as exc:
            raise DemoFailed(f"the demo stopped: {exc}") from None
        finally:
            status.update("stopping the embedded server…")
            server.stop()
            if throwaway is not None:
                shutil.rmtree(throwaway, ignore_errors=True)
    console.print()
    console.print(
        f"podium demo: done in {time.perf_counter() - began:.1f} s, the server's start "
        "included; `podium serve` serves this API on your own database (OpenAPI at /docs).",
        markup=False,
    )
