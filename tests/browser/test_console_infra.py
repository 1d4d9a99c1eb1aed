"""The browser tests' own ground: the server answers `/` with the console, the console loads in
chromium under its CSP without a console error, and the fixtures fail loudly (what is missing
and the command that brings it) rather than skip."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.browser.conftest import (
    AXE,
    BROWSER_TESTS,
    CHROMIUM,
    BrowserLog,
    Server,
    new_page,
    require_axe,
    require_chromium,
)

pytestmark = pytest.mark.browser

CSP = {
    "default-src": "'self'",
    "connect-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "frame-ancestors": "'none'",
}


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {part[0]: part[1] if len(part) > 1 else "" for part in parts}


def test_root_and_console_without_slash_redirect_to_the_console(server: Server) -> None:
    client = server.api()
    for path in ("/", "/console"):
        reply = client.get(f"{server.url}{path}", follow_redirects=False)
        assert reply.status_code in (301, 302, 307, 308), (path, reply.status_code)
        assert reply.headers["location"] in ("/console/", f"{server.url}/console/")
    page = client.get(f"{server.url}/", follow_redirects=True)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert str(page.url) == server.console


def test_console_responses_carry_a_strict_csp(server: Server) -> None:
    client = server.api()
    index = client.get(server.console)
    assert index.status_code == 200
    scripts = _module_sources(index.text)
    assert scripts, "index.html loads no script module"
    for url in [server.console, *(f"{server.console}{src}" for src in scripts)]:
        reply = client.get(url)
        assert reply.status_code == 200, url
        header = reply.headers.get("content-security-policy")
        assert header, f"{url} has no Content-Security-Policy header"
        found = directives(header)
        assert {name: found.get(name) for name in CSP} == CSP, f"{url}: {header}"
        # Any further directive may only narrow what is allowed.
        extra = {name: value for name, value in found.items() if name not in CSP}
        assert set(extra.values()) <= {"'none'", "'self'"}, f"{url}: {header}"


def _module_sources(html: str) -> list[str]:
    return [
        src.removeprefix("./").removeprefix("/console/")
        for src in re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    ]


def test_the_console_loads_in_chromium_without_console_errors(
    server: Server, page: Page, browser_log: BrowserLog
) -> None:
    page.goto("/")
    assert page.url.startswith(server.console)
    page.wait_for_load_state("networkidle")
    expect(page.locator("h1").first).to_be_visible()
    assert browser_log.console_errors() == [], browser_log.console
    assert browser_log.errors == []


def test_axe_check_reports_a_serious_violation(
    page: Page, axe_check: Callable[[Page], Any]
) -> None:
    page.set_content(
        '<!doctype html><html lang="en"><title>t</title><main><h1>Form</h1>'
        '<input type="text"></main></html>'
    )
    with pytest.raises(AssertionError) as failed:
        axe_check(page)
    assert "label" in str(failed.value)
    assert "[critical]" in str(failed.value) or "[serious]" in str(failed.value)
    page.set_content(
        '<!doctype html><html lang="en"><title>t</title><main><h1>Form</h1>'
        '<label>Name <input type="text"></label></main></html>'
    )
    axe_check(page)


def test_missing_chromium_or_axe_fails_with_the_fix(tmp_path: Path) -> None:
    assert Path("/usr/bin/chromium") == CHROMIUM
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install chromium"):
        require_chromium(tmp_path / "chromium")
    with pytest.raises(pytest.fail.Exception, match=r"make browser-deps"):
        require_axe(tmp_path / "axe.min.js")


def test_axe_core_is_pinned_in_the_lockfile() -> None:
    package = json.loads((BROWSER_TESTS / "package.json").read_text())
    lock = json.loads((BROWSER_TESTS / "package-lock.json").read_text())
    pinned = package["devDependencies"]["axe-core"]
    assert lock["packages"]["node_modules/axe-core"]["version"] == pinned
    installed = json.loads((AXE.parent / "package.json").read_text())
    assert installed["version"] == pinned, "run `make browser-deps`"


def test_the_browser_log_records_script_errors_and_failed_loads(
    browser: Browser, server: Server
) -> None:
    """What the `page` fixture fails a test on (uncaught errors) and what `browser_log` holds."""
    log = BrowserLog()
    page = new_page(browser, server, log)
    try:
        page.goto("/console/missing-file.js")
        page.set_content("<!doctype html><title>t</title><script>throw new Error('boom')</script>")
    finally:
        page.context.close()
    assert any("boom" in error for error in log.errors), log.errors
    assert any(
        "404" in text and "/console/missing-file.js" in text for text in log.console_errors()
    ), log.console
