"""The console's weight and speed: its assets' gzipped size stays under 300 KB (asserted), and
the sessions page of an app with 1,000 sessions shows its first rows soon after navigation
(measured and printed, recorded in benchmarks/README.md under "Console"; not asserted, but the
table must appear).

The 1,000 sessions are made over the API as a client would (half wait at a question, half
completed), and the runs are let finish before the measurement, so that the workers do not
compete with the browser for the machine's two cores.
"""

from __future__ import annotations

import gzip
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from tests.browser.conftest import ROOT, VIEWPORT, Server, User

pytestmark = pytest.mark.browser

STATIC = ROOT / "src" / "podium" / "console" / "static"
BUDGET_BYTES = 300 * 1024
SESSIONS = 1000
# A row of a table in <main> that links to a session (not the table's "no sessions" row).
ROWS = 'main table tbody tr:has(a[href*="/sessions/ses_"])'
# Injected before the console's own scripts (through the DevTools protocol, so the console's
# CSP does not apply): the time, from navigation start, when the first session row is in the
# document.
FIRST_ROWS_OBSERVER = """
(() => {
  const seen = () => {
    if (window.__podiumFirstRows === undefined && document.querySelector(ROWS)) {
      window.__podiumFirstRows = performance.now();
    }
  };
  new MutationObserver(seen).observe(document, {childList: true, subtree: true});
})();
""".replace("ROWS", json.dumps(ROWS))
CHAIN_FLOW = {
    "name": "chain",
    "nodes": [
        {"id": f"n{i}", "type": "template", "config": {"template": f"n{i}", "output_key": f"n{i}"}}
        for i in range(3)
    ],
    "edges": [{"source": f"n{i}", "target": f"n{i + 1}"} for i in range(2)],
}


def gzipped_assets(folder: Path = STATIC) -> tuple[int, int, int]:
    """(files, bytes, gzipped bytes) of everything under `folder`, each file gzipped on its own
    at level 6 (what a server or proxy compressing the responses sends)."""
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
    raw = sum(path.stat().st_size for path in files)
    packed = sum(len(gzip.compress(path.read_bytes(), compresslevel=6)) for path in files)
    return len(files), raw, packed


def test_console_assets_stay_under_300_kb_gzipped() -> None:
    files, raw, packed = gzipped_assets()
    assert (STATIC / "index.html").is_file()
    print(f"\nconsole assets: {files} files, {raw / 1024:.1f} KB, {packed / 1024:.1f} KB gzipped")
    assert packed < BUDGET_BYTES, f"console assets are {packed / 1024:.1f} KB gzipped (> 300 KB)"


def test_the_budget_counts_every_file(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html>" + "x" * 1000)
    (tmp_path / "js" / "app.js").write_bytes(bytes(range(256)) * 4)
    files, raw, packed = gzipped_assets(tmp_path)
    assert (files, raw) == (2, 1015 + 1024)
    assert 0 < packed < raw


@pytest.fixture(scope="module")
def crowded_app(server: Server, admin: User, make_app: Callable[[User, str], Any]) -> str:
    """An app with 1,000 sessions, all runs ended (500 waiting at a question, 500 completed)."""
    app_id = str(make_app(admin, "crowded")["id"])
    client = server.api(admin.token)
    ask = json.loads((ROOT / "examples" / "flows" / "ask.json").read_text())
    for flow in (ask, CHAIN_FLOW):
        reply = client.post(f"/apps/{app_id}/flows", json=flow)
        assert reply.status_code == 201, reply.text
    started = time.monotonic()
    for number in range(SESSIONS):
        flow = "ask" if number % 2 else "chain"
        reply = client.post(
            f"/apps/{app_id}/sessions",
            json={"flow": flow, "input": {}, "metadata": {"number": number}},
        )
        assert reply.status_code == 201, reply.text
        assert time.monotonic() - started < 120, f"only {number} sessions in 120 s"
    made = time.monotonic() - started
    deadline = time.monotonic() + 120
    while True:
        counts = {status: _count(client, app_id, status) for status in ("waiting", "completed")}
        if counts == {"waiting": SESSIONS // 2, "completed": SESSIONS // 2}:
            break
        assert time.monotonic() < deadline, f"runs still going after 120 s: {counts}"
        time.sleep(0.5)
    print(
        f"\n{SESSIONS} sessions made over the API in {made:.1f} s; runs ended after "
        f"{time.monotonic() - started:.1f} s"
    )
    return app_id


def _count(client: Any, app_id: str, status: str) -> int:
    total, cursor = 0, None
    while True:
        params: dict[str, Any] = {"status": status, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = client.get(f"/apps/{app_id}/sessions", params=params).json()
        total += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return total


def first_rows(page: Page, url: str) -> tuple[float, float | None]:
    """Load `url` as a new document: (ms from navigation start until the first table row,
    ms until the first contentful paint)."""
    page.goto("about:blank")
    page.goto(url)
    try:
        page.locator(ROWS).first.wait_for(timeout=30_000)
    except PlaywrightTimeout:
        text = page.evaluate("document.body ? document.body.innerText : ''")
        raise AssertionError(
            f"the sessions table never showed a row ({ROWS!r}) in 30 s; the page says:\n"
            f"{text[:2000]}"
        ) from None
    rows: float = page.evaluate("window.__podiumFirstRows")
    assert isinstance(rows, (int, float)), "the row observer did not run"
    paint: float | None = page.evaluate(
        "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime ?? null"
    )
    return rows, paint


@pytest.mark.timeout(300)
def test_sessions_page_with_1000_sessions_first_rows(
    server: Server,
    admin: User,
    crowded_app: str,
    browser: Browser,
    login: Callable[[Page, User], None],
) -> None:
    context = browser.new_context(viewport=VIEWPORT, base_url=server.url)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        login(page, admin)
        page.add_init_script(FIRST_ROWS_OBSERVER)
        devtools = context.new_cdp_session(page)
        url = f"{server.url}/console/#/apps/{crowded_app}/sessions"
        cold, warm = [], []
        for _ in range(3):
            devtools.send("Network.clearBrowserCache")
            cold.append(first_rows(page, url))
            warm.append(first_rows(page, url))
        shown = page.locator(ROWS)
        count = shown.count()
        assert 1 <= count <= SESSIONS, count
        first = shown.first.inner_text()
        assert "ask" in first, f"the newest session (number 999, of ask) is not first: {first}"
        assert errors == [], errors
    finally:
        context.close()
    print(
        f"\nsessions page, {SESSIONS} sessions, {count} rows shown: first rows "
        f"cold cache {_summary([r for r, _ in cold])}, "
        f"warm cache {_summary([r for r, _ in warm])}; first contentful paint "
        f"cold {_summary([p for _, p in cold])}, warm {_summary([p for _, p in warm])}"
    )


def _summary(samples: list[float | None]) -> str:
    values = [s for s in samples if s is not None]
    if not values:
        return "n/a"
    return (
        f"median {statistics.median(values):.0f} ms (" + ", ".join(f"{v:.0f}" for v in values) + ")"
    )
