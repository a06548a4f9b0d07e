"""Every page the app serves, in headless Chromium at a phone's 390 × 844 and a
desk's 1440 × 900: axe-core finds no WCAG 2.1 A/AA violation, nothing is
requested from outside the server, and no script fails.

The list of pages comes from the app itself (every GET route whose answer is
``text/html``, plus the documentation pages and a map link that cannot be
shown), so a page added later — the wish wall, the activity list — is checked
here without anyone remembering to; a page whose route needs a parameter is
opened with the first sample town."""

from __future__ import annotations

import pytest

from tests.maps.conftest import LONGTENG, axe_violations
from tests.maps.test_browser import Watched

#: pages that are not in the OpenAPI (documentation) or not a route of their
#: own (a bad link answers with the Chinese error page)
EXTRA = {"/docs": "/docs", "/redoc": "/redoc",
         "error": f"/maps/resident?region={LONGTENG}99"}
#: pages the list must hold (the enumeration itself can be wrong)
KNOWN = {"/maps/resident", "/embed/resident", "/maps/planner"}
SIZES = [(390, 844), (1440, 900)]


def _pages(live_server: str) -> dict[str, str]:
    """Every page: the app's GET routes answering text/html (from its OpenAPI),
    and :data:`EXTRA`."""
    import httpx

    spec = httpx.get(f"{live_server}/openapi.json", timeout=30).json()
    out = {}
    for path, ops in spec["paths"].items():
        content = (ops.get("get") or {}).get("responses", {}).get("200", {}).get("content", {})
        if "text/html" in (content or {}):
            out[path] = f"{path}?region={LONGTENG}"
    return out | EXTRA


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_page_is_accessible_and_local(size, browser_context, live_server, artifacts):
    pages = _pages(live_server)
    assert KNOWN <= set(pages)  # the enumeration itself can be wrong
    failures = {}
    for name, url in sorted(pages.items()):
        w = Watched(browser_context)
        try:
            failures[name] = _check(w, name, live_server + url, size, artifacts)
        finally:
            w.close()
    assert {k: v for k, v in failures.items() if v} == {}


def _check(watched: Watched, name: str, url: str, size: tuple[int, int], artifacts) -> list:
    page = watched.page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    response = page.goto(url)
    assert response is not None
    if name == "error":
        assert response.status == 404 and "没有找到" in page.inner_text("body")
    else:
        assert response.status == 200, name
    if name.startswith(("/maps", "/embed")):
        page.wait_for_selector("[data-ready='1']", state="attached", timeout=20000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    if name == "error":  # Chromium logs the page's own 404; nothing else may fail
        page.wait_for_timeout(500)
        watched.errors.remove("Failed to load resource: the server responded with a status "
                              "of 404 (Not Found)")
    assert page.evaluate("document.documentElement.lang") == "zh-CN", name
    found = axe_violations(page)
    slug = name.strip("/").replace("/", "-")
    page.screenshot(path=str(artifacts / f"page-{slug}-{size[0]}x{size[1]}.png"))
    watched.check_clean()
    return found
