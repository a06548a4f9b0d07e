"""Fixtures of the map tests: stored service circles, a running app on a free
loopback port, and headless Chromium (Debian's, no download)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from api.settings import Settings
from geo.circles import compute_circles
from tests.conftest import make_app, serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LISHUI = "440605126"
LONGTENG = "440507013"


@pytest.fixture(scope="package")
def map_circles(samples_engine):
    """The 10-minute (elderly) circles of every sample point, removed afterwards."""
    with samples_engine.begin() as c:
        compute_circles(c, [10], profile="elderly")
    yield
    with samples_engine.begin() as c:
        c.execute(text("DELETE FROM service_circles"))


@pytest.fixture(scope="package")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="package")
def live_server(samples_engine, map_circles):
    """The app served by uvicorn on 127.0.0.1 in a thread (data versions read
    on every request: cache_ttl_s=0)."""
    with serve_in_thread(make_app(Settings(cache_ttl_s=0), samples_engine)) as url:
        yield url


@pytest.fixture(scope="package")
def playwright_instance():
    """Playwright (its driver only: the browser is Debian's Chromium)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser_context(playwright_instance, tmp_path_factory):
    """A Chromium context with a fresh profile directory, geolocation allowed."""
    ctx = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
        args=CHROMIUM_ARGS, headless=True, viewport={"width": 360, "height": 640},
        locale="zh-CN", timezone_id="Asia/Shanghai", permissions=["geolocation"],
        service_workers="block")
    yield ctx
    ctx.close()


AXE = ROOT / ".venv" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page) -> list[tuple[str, str, list[str]]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now: (rule,
    impact, first targets). axe is evaluated through the DevTools protocol, so
    the page's Content-Security-Policy stays as it is."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing ({AXE}): run `bash scripts/setup.sh --test`")
    page.evaluate(AXE.read_text("utf-8"))
    return page.evaluate(
        "(tags) => axe.run(document, {runOnly: tags}).then(r => r.violations.map("
        "v => [v.id, v.impact, v.nodes.slice(0, 3).map(n => n.target.join(' '))]))",
        WCAG_AA)
