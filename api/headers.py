"""Security headers of every answer: a Content-Security-Policy built from the
page itself, who may frame it, and the referrer policy.

The maps work offline, so their policy can be strict: scripts only from the
server and the page's own inline scripts (each by its SHA-256, computed from
the page as sent), images from the server, ``data:`` and ``blob:`` plus the
tile servers of the basemaps the page itself names, connections to the
server only, no plugins, no ``<base>`` elsewhere. Styles allow inline
``style`` attributes (the pages' legends set colours that way), nothing
external beyond what the page names.

``frame-ancestors``: the embeddable pages (``/embed/...``) may be framed by
the server and the origins of ``SERVICEMAP_FRAME_ANCESTORS`` (the town's H5
site, the mini-program's web-view domain); every other page by the server only
(and ``X-Frame-Options: SAMEORIGIN`` for old browsers). Answers that are not
HTML get ``default-src 'none'; frame-ancestors 'none'``: JSON, tiles and images
never run anything. A ``304 Not Modified`` carries no policy: the browser keeps
the stored answer's, which a 304's headers would otherwise overwrite.

Web Workers come from the server only (``default-src``), except on the pages
named by ``blob_workers`` (ReDoc at ``/redoc``, whose search runs in a worker
made from a ``blob:`` URL): there ``worker-src 'self' blob:`` is added.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SecurityHeaders", "page_policy"]

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_SCRIPT_SRC = re.compile(rb"<script[^>]*\bsrc=[\"'](https?://[^/\"']+)", re.I)
_STYLE_HREF = re.compile(rb"<link[^>]*\bhref=[\"'](https?://[^/\"']+)[^>]*>", re.I)
#: a tile URL template of a basemap (Leaflet ``L.tileLayer("https://{s}.host/...")``)
_TILE_URL = re.compile(rb"L\.tileLayer\(\s*\"(https?://[^/\"]+)")
_NOT_HTML = "default-src 'none'; frame-ancestors 'none'"


def _origin(raw: bytes) -> str:
    """A source expression of an origin; Leaflet's ``{s}`` subdomains become ``*``."""
    text = raw.decode("ascii", "replace")
    return re.sub(r"\{[a-z]+\}", "*", text)


def page_policy(body: bytes, *, frame_ancestors: Sequence[str] = (),
                blob_workers: bool = False) -> str:
    """The Content-Security-Policy of an HTML page, from the page itself;
    ``blob_workers``: the page may start Web Workers from ``blob:`` URLs."""
    return _page_policy(body, tuple(frame_ancestors), blob_workers)


@functools.lru_cache(maxsize=64)
def _page_policy(body: bytes, frame_ancestors: tuple[str, ...], blob_workers: bool) -> str:
    # pages come from the page cache: the same bytes again and again (the
    # scans cost ≈ 3 ms for the 135 KB resident page; the lookup a hash of it)
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()
                     + "'" for m in _INLINE_SCRIPT.finditer(body)})
    scripts = sorted({_origin(m.group(1)) for m in _SCRIPT_SRC.finditer(body)})
    styles = sorted({_origin(m.group(1)) for m in _STYLE_HREF.finditer(body)})
    tiles = sorted({_origin(m.group(1)) for m in _TILE_URL.finditer(body)})
    ancestors = " ".join(["'self'", *frame_ancestors])
    return "; ".join([
        "default-src 'self'",
        *(["worker-src 'self' blob:"] if blob_workers else []),
        " ".join(["script-src 'self'", *hashes, *scripts]),
        " ".join(["style-src 'self' 'unsafe-inline'", *styles]),
        " ".join(["img-src 'self' data: blob:", *tiles]),
        " ".join(["font-src 'self' data:", *styles]),
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ])


def _app_path(scope: Scope) -> str:
    """The request's path inside the app (without the root path it is served below)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root + "/") else path


class SecurityHeaders:
    """Pure ASGI middleware adding the headers above to every HTTP answer.

    Parameters
    ----------
    embed_ancestors
        Origins allowed to frame ``/embed/...`` pages (besides the server).
    blob_workers
        Paths of the pages that may start Web Workers from ``blob:`` URLs.
    """

    def __init__(self, app: ASGIApp, *, embed_ancestors: Sequence[str] = (),
                 blob_workers: Sequence[str] = ()) -> None:
        self.app = app
        self.embed_ancestors = tuple(embed_ancestors)
        self.blob_workers = frozenset(blob_workers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        embed = scope["path"].startswith("/embed/")
        start: Message | None = None
        chunks: list[bytes] = []

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                has_csp = any(k.lower() == b"content-security-policy" for k, _ in headers)
                headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                if b"text/html" in ctype and not has_csp and message["status"] != 304:
                    start = {**message, "headers": headers}
                    return
                if message["status"] == 304:
                    # no policy on a 304: the browser merges its headers into the
                    # stored answer, and a JSON policy would replace the page's own
                    # (a revisited map then loads no script at all)
                    await send({**message, "headers": headers})
                    return
                if not has_csp:
                    headers.append((b"content-security-policy",
                                    b"frame-ancestors 'self'" if b"text/html" in ctype
                                    else _NOT_HTML.encode()))
                await send({**message, "headers": headers})
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            policy = page_policy(body, frame_ancestors=self.embed_ancestors if embed else (),
                                 blob_workers=_app_path(scope) in self.blob_workers)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers += [(b"content-length", str(len(body)).encode()),
                        (b"content-security-policy", policy.encode())]
            if not embed:
                headers.append((b"x-frame-options", b"SAMEORIGIN"))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, wrapped)
