"""`podium serve --dev`: a local server ready in one command, on loopback only.

Once the server answers it makes (if missing) the administrator `admin` (a random password
printed once) and the app `demo` with the example flows of examples/flows registered and the
installed packs enabled (over the HTTP API, as any client would), then prints a login link
for the console that carries a refresh token, so the first minute needs no curl.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from podium.errors import InvalidInput

ADMIN = "admin"
ADMIN_EMAIL = "admin@podium.localhost"
DEMO_APP = "demo"
EXAMPLE_MODULE = "example_nodes"
FLOW_SUFFIXES = (".json", ".yaml", ".yml")


def check_loopback(host: str) -> None:
    """Refuse a host other than loopback: dev mode makes an administrator and prints a link
    that logs in as them."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise InvalidInput(
        f"podium serve --dev listens on loopback only, not {host!r}: it makes an "
        "administrator and prints a link that logs in as them. Use --host 127.0.0.1 (the "
        "default), or podium serve without --dev for a server others reach (it prints a "
        "first-run link instead)"
    )


def examples_folder() -> Path | None:
    """examples/flows of the clone: under the current directory, else beside the sources."""
    here = Path.cwd() / "examples" / "flows"
    if (here / f"{EXAMPLE_MODULE}.py").is_file():
        return here
    source = Path(__file__).resolve().parents[2] / "examples" / "flows"
    if (source / f"{EXAMPLE_MODULE}.py").is_file():
        return source
    return None


def use_examples(folder: Path | None) -> None:
    """Make the example nodes importable by this server's python nodes."""
    if folder is not None and str(folder) not in sys.path:
        sys.path.append(str(folder))


class DevFailed(Exception):
    """Dev mode could not prepare the demo app; the message says what failed."""


def example_flows(folder: Path | None) -> list[Any]:
    """The flow definitions of the example folder's files, decoded."""
    flows = []
    for path in sorted(folder.iterdir()) if folder else []:
        if path.suffix.lower() in FLOW_SUFFIXES:
            text = path.read_text(encoding="utf-8")
            flows.append(json.loads(text) if path.suffix == ".json" else yaml.safe_load(text))
    return flows


async def prepare(
    app: Any, base: str, examples: list[Any], say: Callable[[str], None]
) -> tuple[str, str]:
    """Make the administrator and the demo app on the running server (idempotent); the
    administrator's refresh token and the app's id."""
    auth = app.state.services.auth
    user = await auth.find_user(ADMIN)
    if user is None:
        password = secrets.token_urlsafe(18)
        user = await auth.create_user(ADMIN_EMAIL, ADMIN, password, is_admin=True)
        say(f"dev: created the administrator {ADMIN} with the password {password} (shown once)")
    elif not user.is_admin:
        raise DevFailed(
            f"the user {ADMIN!r} exists and is not an administrator; use another --db, or "
            "make them one"
        )
    pair = await auth.issue_tokens(user)
    headers = {"Authorization": f"Bearer {pair.access_token}"}
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", headers=headers, timeout=60) as http:

        async def call(method: str, path: str, body: Any = None) -> Any:
            response = await http.request(method, path, json=body)
            if response.status_code >= 400:
                try:
                    message = response.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = response.text
                raise DevFailed(f"{method} {path}: {response.status_code} {message}")
            return response.json() if response.content else None

        app_id, cursor = None, ""
        while app_id is None and cursor is not None:
            page = await call("GET", f"/apps?limit=200{cursor and '&cursor=' + cursor}")
            app_id = next((a["id"] for a in page["items"] if a["name"] == DEMO_APP), None)
            cursor = page["next_cursor"]
        if app_id is None:
            app_id = (await call("POST", "/apps", {"name": DEMO_APP}))["id"]
        flows = []
        for definition in examples:
            flows.append((await call("POST", f"/apps/{app_id}/flows", definition))["name"])
        enabled = []
        for pack in await call("GET", f"/apps/{app_id}/packs"):
            if not pack["enabled"]:
                await call("PUT", f"/apps/{app_id}/packs/{pack['name']}")
            enabled.append(pack["name"])
    say(
        f"dev: app {DEMO_APP} ({app_id}): example flows {', '.join(flows) or 'none'}; "
        f"packs {', '.join(enabled) or 'none'}"
    )
    return pair.refresh_token, app_id


def serve_dev(config: Any, examples: Path | None, base: str, say: Callable[[str], None]) -> int:
    """Run uvicorn's server of `config` and, once it answers, prepare the demo app and print
    the login link. The exit status: 1 when the preparation failed (the server stops)."""
    import uvicorn

    server = uvicorn.Server(config)
    failed: list[str] = []
    flows = example_flows(examples)

    async def bootstrap() -> None:
        while not server.started:  # noqa: ASYNC110 - uvicorn sets a flag, it has no event
            await asyncio.sleep(0.05)
        try:
            refresh, _ = await prepare(config.app, base, flows, say)
        except (DevFailed, httpx.HTTPError, OSError) as exc:
            failed.append(str(exc))
            server.should_exit = True
            return
        except Exception as exc:  # a PodiumError of the user's creation, say
            failed.append(getattr(exc, "message", None) or repr(exc))
            server.should_exit = True
            return
        say(f"console: {base}/console/#/login?refresh={refresh}")
        say(f"API docs: {base}/docs")
        say("(the link logs in once; run podium serve --dev again for another)")

    async def main() -> None:
        task = asyncio.create_task(bootstrap())
        try:
            await server.serve()
        finally:
            task.cancel()

    asyncio.run(main())
    if not server.started:
        return 1  # uvicorn said why (the port is taken, say)
    if failed:
        say(f"error: podium serve --dev could not prepare the demo app: {failed[0]}")
        return 1
    return 0
