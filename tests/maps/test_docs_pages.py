"""The API documentation pages offline (issue 13 #11): ``/docs`` (Swagger UI)
and ``/redoc`` (ReDoc) load everything from the app itself, render the API,
use the machine's own fonts, keep the app's Content-Security-Policy and pass
axe-core's WCAG 2.1 A/AA rules, on a desktop and on a phone.

Chromium reaches the test server by a name that is not loopback
(``docs.servicemap.test``, mapped to 127.0.0.1 by ``--host-resolver-rules``),
as a developer reaches a town's server: Swagger UI calls its online validator
only for specs not on ``localhost``/``127.0.0.1``, so a loopback URL could
hide a page that calls out."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from api.settings import Settings
from tests.conftest import make_app, serve_in_thread
from tests.maps.conftest import CHROMIUM, CHROMIUM_ARGS, axe_violations

HOST = "docs.servicemap.test"
TITLE = "ServiceMap 党群服务地图 API"
VIEWPORTS = [(1440, 900), (390, 844)]


@pytest.fixture(scope="module")
def docs_server(samples_engine):
    with serve_in_thread(make_app(Settings(), samples_engine)) as url:
        yield f"http://{HOST}:{urlparse(url).port}"


@pytest.fixture(scope="module")
def docs_browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"])
    yield browser
    browser.close()


class Opened:
    """A page with every request to another host and every console error recorded."""

    def __init__(self, browser, width: int, height: int) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height},
                                     locale="zh-CN")
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", self._request)
        self.page.on("console", lambda m: self.errors.append(m.text)
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _request(self, request) -> None:
        if request.url.startswith(("data:", "blob:")):
            return
        if urlparse(request.url).hostname != HOST:
            self.outside.append(request.url)

    def open(self, url: str, ready: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector(ready, timeout=30000)
        self.page.wait_for_load_state("networkidle")

    def check_offline(self) -> None:
        # a CSP violation is a console error too
        assert self.outside == [], f"requests left the server: {self.outside}"
        assert self.errors == [], self.errors

    def check_axe(self) -> None:
        bad = [v for v in axe_violations(self.page) if v[1] in ("serious", "critical")]
        assert bad == [], bad

    def fonts_of(self, selector: str) -> list[dict]:
        """The fonts Chromium drew the element's text with (DevTools' CSS domain)."""
        cdp = self.page.context.new_cdp_session(self.page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, selector
        return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


@pytest.fixture
def opened(docs_browser, request):
    width, height = request.param
    o = Opened(docs_browser, width, height)
    yield o
    o.page.close()


def _local_cjk(fonts: list[dict]) -> None:
    """The text was drawn with the machine's fonts only, the Chinese in Noto CJK."""
    assert fonts and all(not f["isCustomFont"] for f in fonts), fonts
    assert any(f["familyName"].startswith("Noto Sans CJK") for f in fonts), fonts


@pytest.mark.parametrize("opened", VIEWPORTS, indirect=True, ids=["1440", "390"])
def test_swagger_ui_renders_offline(opened, docs_server, artifacts):
    page = opened.page
    opened.open(f"{docs_server}/docs", "#operations-points-list_points")
    opened.check_offline()
    assert page.title() == f"{TITLE} · 接口文档"
    assert page.inner_text(".swagger-ui .info .title").startswith(TITLE)
    paths = page.eval_on_selector_all(".opblock-summary-path",
                                      "els => els.map(e => e.getAttribute('data-path'))")
    assert "/api/v1/points" in paths and "/api/v1/nearest" in paths
    assert "/docs" not in paths and "/redoc" not in paths     # the pages are not in the API
    # the operations can be opened: the points list shows its parameters
    page.click("#operations-points-list_points .opblock-summary-control")
    page.wait_for_selector("#operations-points-list_points tr[data-param-name='region']")
    assert page.evaluate("location.hash") == "#/points/list_points"   # deep links still work
    page.click("#operations-points-list_points .opblock-summary-control")   # closed again
    _local_cjk(opened.fonts_of(".swagger-ui .info .title"))
    opened.check_axe()
    width = page.viewport_size["width"]
    # nothing wider than the phone's screen
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts / f"docs-{width}.png"))
    opened.check_offline()


@pytest.mark.parametrize("opened", VIEWPORTS, indirect=True, ids=["1440", "390"])
def test_redoc_renders_offline(opened, docs_server, artifacts):
    page = opened.page
    opened.open(f"{docs_server}/redoc", "h1")
    assert page.title() == f"{TITLE} · 接口参考"
    assert page.inner_text("h1") == f"{TITLE} (0.1.0)"
    page.wait_for_selector("[id='operation/list_points']", state="attached")
    _local_cjk(opened.fonts_of("h1"))
    if page.viewport_size["width"] >= 1000:
        # search runs in a Web Worker from a blob: URL (the one worker-src the app allows)
        page.fill("input[placeholder='Search...']", "nearest")
        results = page.wait_for_selector("[data-role='search:results']")
        assert "nearest by walking" in results.inner_text()
        page.fill("input[placeholder='Search...']", "")
    opened.check_axe()
    page.screenshot(path=str(artifacts / f"redoc-{page.viewport_size['width']}.png"))
    opened.check_offline()


def test_fastapis_cdn_pages_are_off_and_assets_are_local(samples_engine):
    with TestClient(make_app(Settings(), samples_engine)) as c:
        docs, redoc = c.get("/docs"), c.get("/redoc")
        assert docs.status_code == redoc.status_code == 200
        for page in (docs.text, redoc.text):
            assert "http://" not in page and "https://" not in page   # no CDN, no fonts
        assert c.get("/docs/oauth2-redirect").status_code == 404     # FastAPI's own pages off
        bundle = c.get("/docs/assets/redoc.standalone.js")
        assert bundle.status_code == 200 and b"cdn.redoc.ly" not in bundle.content
        assert c.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
        again = c.get("/docs/assets/swagger-ui.css",
                      headers={"If-None-Match": bundle.headers["etag"]})
        assert again.status_code == 200                           # another file's ETag
        same = c.get("/docs/assets/redoc.standalone.js",
                     headers={"If-None-Match": bundle.headers["etag"]})
        assert same.status_code == 304
        missing = c.get("/docs/assets/app.py")                   # only the files listed
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert "app.py" in missing.json()["detail"]
