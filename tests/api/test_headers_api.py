"""Security headers (issue 11 #8): a strict CSP on every page, who may frame
what, absolute URLs never built from a forged Host, and a request body that
stops arriving is answered 408 and its connection closed."""

from __future__ import annotations

import base64
import hashlib
import re
import socket

import pytest
from fastapi.testclient import TestClient

from api.settings import Settings
from tests.conftest import make_app, serve_in_thread

pytestmark = pytest.mark.reliability

H5 = "https://h5.lishui.example"


@pytest.fixture(scope="module")
def client(samples_engine):
    app = make_app(Settings(frame_ancestors=[H5]), samples_engine)
    with TestClient(app) as c:
        yield c


def _policy(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_pages_have_a_strict_policy_from_their_own_scripts(client):
    r = client.get("/maps/resident")
    assert r.status_code == 200
    csp = _policy(r.headers["content-security-policy"])
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["object-src"] == ["'none'"] and csp["connect-src"] == ["'self'"]
    # every inline script of the page, and nothing else, is allowed by its hash
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", r.text, re.S)
    assert inline
    want = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in inline}
    assert {w for w in csp["script-src"] if w.startswith("'sha256-")} == want
    # a page of the server is framed by the server only
    assert csp["frame-ancestors"] == ["'self'"]
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_embeds_are_framed_by_the_configured_town_sites_only(client):
    r = client.get("/embed/resident")
    csp = _policy(r.headers["content-security-policy"])
    assert csp["frame-ancestors"] == ["'self'", H5]
    assert "x-frame-options" not in r.headers
    planner = _policy(client.get("/maps/planner").headers["content-security-policy"])
    assert planner["frame-ancestors"] == ["'self'"]


def test_answers_that_are_not_pages_run_nothing(client):
    for path in ("/api/v1/points", "/tiles/points/14/13340/7100.mvt", "/api/v1/regions"):
        r = client.get(path)
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_a_forged_host_is_never_echoed(samples_engine):
    app = make_app(Settings(host="127.0.0.1", port=8000), samples_engine)
    with TestClient(app) as c:
        doc = c.get("/tiles/points.json", headers={"Host": "evil.example"}).json()
        assert "evil.example" not in doc["tiles"][0]
        assert doc["tiles"][0].startswith("http://127.0.0.1:8000/tiles/points/")
        index = c.get("/tiles", headers={"Host": "evil.example"}).json()
        assert all("evil.example" not in x["tilejson"] for x in index["layers"])
        assert c.get("/tiles/points.json", headers={"Host": "localhost:8000"}).json()[
            "tiles"][0].startswith("http://localhost:8000/")
    public = make_app(Settings(public_url="https://map.lishui.example"), samples_engine)
    with TestClient(public) as c:
        doc = c.get("/tiles/points.json", headers={"Host": "evil.example"}).json()
        assert doc["tiles"][0].startswith("https://map.lishui.example/tiles/points/")


def test_a_body_that_stops_arriving_gets_408_and_the_connection_closed(samples_engine):
    app = make_app(Settings(body_timeout_s=1.0), samples_engine)
    with serve_in_thread(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /api/v1/isochrones HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"lng\":")
            data = b""
            while True:  # a connection left open would end in socket.timeout instead
                chunk = s.recv(65536)
                if not chunk:  # the server closed the connection
                    break
                data += chunk
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
        assert b"connection: close" in data.lower()


def test_only_redoc_may_start_workers_from_blob_urls(client):
    """ReDoc's search runs in a Web Worker made from a ``blob:`` URL: ``/redoc``
    alone gets ``worker-src 'self' blob:``; other pages fall back to
    ``default-src 'self'``. The docs pages' inline scripts are allowed by hash."""
    redoc = client.get("/redoc")
    csp = _policy(redoc.headers["content-security-policy"])
    assert csp["worker-src"] == ["'self'", "blob:"]
    assert csp["default-src"] == ["'self'"] and csp["connect-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", redoc.text, re.S)
    assert len(inline) == 1
    assert csp["script-src"] == ["'self'", "'sha256-" + base64.b64encode(
        hashlib.sha256(inline[0].encode()).digest()).decode() + "'"]
    for path in ("/docs", "/maps/resident", "/maps/planner", "/embed/resident"):
        other = _policy(client.get(path).headers["content-security-policy"])
        assert "worker-src" not in other and other["default-src"] == ["'self'"], path
        assert "blob:" not in other["script-src"], path


def test_a_revisited_page_keeps_its_own_policy(client):
    """A 304 names no policy: Chromium merges a 304's headers into the stored
    page, so a JSON policy on it left a revisited map without any script."""
    first = client.get("/maps/resident")
    assert first.status_code == 200 and first.headers.get("etag")
    again = client.get("/maps/resident", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert "content-security-policy" not in again.headers
    assert "x-frame-options" not in again.headers
