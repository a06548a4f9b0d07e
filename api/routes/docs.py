"""The API's documentation pages, offline: Swagger UI at ``/docs`` and ReDoc at
``/redoc``, with every script, style and image served by the app itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN and ReDoc's fonts
from Google Fonts, so on a town's intranet or a developer's laptop without
internet they stay blank. Here the app turns those off (``docs_url=None,
redoc_url=None`` in :func:`api.app.create_app`) and serves these instead:

* the assets are the ones the ``fastapi-offline`` package ships (Swagger UI 5
  and ReDoc 2 builds, Apache-2.0 and MIT), read once from its package data
  into memory and served from a fixed list under ``/docs/assets/`` with a
  content hash in the URL (no path from a request reaches the file system);
* ReDoc's side menu shows a logo from ``cdn.redoc.ly``: the one place its
  bundle names a remote image (checked when the bundle is read); it is
  replaced by an empty local image, so the page asks nothing of the internet;
* Swagger UI's online validator is off (``validatorUrl: null``; its badge,
  which sends the spec's URL to ``validator.swagger.io``, belongs to a layout
  these pages do not use, and stays off should that change);
* fonts are the machine's own (ReDoc's theme names system CJK fonts first);
* a small style override (:data:`OVERRIDES`) fixes what axe-core finds in
  Swagger UI's and ReDoc's colours (WCAG AA contrast) and lets the pages fit
  a 390 px phone.

ReDoc builds its search index in a Web Worker made from a ``blob:`` URL; the
app's Content-Security-Policy allows ``worker-src blob:`` on ``/redoc`` only
(:data:`BLOB_WORKER_PAGES`, passed to :class:`api.headers.SecurityHeaders`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from api.caching import not_modified
from api.deps import get_settings
from api.routes.tiles import CacheBuster
from api.settings import Settings
from geo.cache import etag_of
from geo.errors import ConfigurationError, NotFound
from maps.assets import Asset

__all__ = ["ASSETS_PATH", "BLOB_WORKER_PAGES", "DOCS_PATH", "REDOC_PATH", "router"]

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs/assets"
#: pages whose policy allows Web Workers from ``blob:`` URLs (ReDoc's search)
BLOB_WORKER_PAGES = (REDOC_PATH,)

#: the files of fastapi-offline's ``static/`` served, and their media types
_FILES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8",
          "redoc.standalone.js": "text/javascript; charset=utf-8",
          "favicon.png": "image/png"}
#: the remote logo in ReDoc's side menu, and the empty local image put in its place
_REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
_EMPTY_SVG = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"

#: system fonts (no web fonts): CJK first, as the pages' text is mostly Chinese
FONTS = ('"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
         '"DejaVu Sans", sans-serif')
MONO = '"DejaVu Sans Mono", "Noto Sans Mono CJK SC", Consolas, monospace'

#: Style fixes over Swagger UI and ReDoc: their own colours fail WCAG AA
#: contrast (axe-core's ``color-contrast``: white on the method badges and
#: version stamps, light blue and green text on white, ReDoc's red tab labels on
#: its dark panel, its grey section headers); darker shades of the same hues
#: keep the pages recognisable.
#: The font families are put in for ``{fonts}`` and ``{mono}``.
_OVERRIDES = """
body { margin: 0; }
.swagger-ui .info .title, .swagger-ui .info p, .swagger-ui .info li,
.swagger-ui .opblock-tag, .swagger-ui .opblock .opblock-summary-description,
.swagger-ui .btn, .swagger-ui .tab li, .swagger-ui .markdown p,
.swagger-ui .renderedMarkdown p, .swagger-ui table thead tr th,
.swagger-ui .parameter__name, .swagger-ui .response-col_status { font-family: {fonts}; }
.swagger-ui .opblock-summary-path, .swagger-ui code { font-family: {mono}; }
.swagger-ui .opblock.opblock-get .opblock-summary-method { background: #1f69c0; }
.swagger-ui .opblock.opblock-post .opblock-summary-method { background: #187a4d; }
.swagger-ui .opblock.opblock-put .opblock-summary-method { background: #9a5800; }
.swagger-ui .opblock.opblock-patch .opblock-summary-method { background: #137a68; }
.swagger-ui .opblock.opblock-delete .opblock-summary-method { background: #c41e1e; }
.swagger-ui .opblock.opblock-head .opblock-summary-method,
.swagger-ui .opblock.opblock-options .opblock-summary-method { background: #6c4aa8; }
.swagger-ui .info .title small { background: #5c6370; }
.swagger-ui .info .title small.version-stamp { background: #4b6e00; }
.swagger-ui .info .url, .swagger-ui .info a { color: #1f5fae; }
.swagger-ui .btn.authorize, .swagger-ui .btn.authorize span { color: #187a4d; }
.swagger-ui .btn.authorize { border-color: #187a4d; }
.swagger-ui .btn.authorize svg { fill: #187a4d; }
#redoc li[role="tab"].tab-error[aria-selected="false"] { color: #ff8a80; }
#redoc [id^="operation/"] h5 { color: #5c6370; }
@media (max-width: 600px) {
  .swagger-ui .wrapper { padding: 0 12px; }
  .swagger-ui .opblock .opblock-summary-path { word-break: break-all; }
}
"""
OVERRIDES = _OVERRIDES.replace("{fonts}", FONTS).replace("{mono}", MONO)

#: Swagger UI: an operation's summary is a button, and with deep linking the
#: path inside it is a link too (axe-core's ``nested-interactive``: a screen
#: reader cannot reach it). The path is drawn without its link; the URL still
#: follows the open operation (the deep-linking plugin does that, not the link).
_SWAGGER_PLUGIN = (
    "function SmPlainPaths() { return {wrapComponents: {DeepLink: function (Original) {"
    " return function (props) { return Original(Object.assign({}, props, {enabled: false}));"
    " }; }}}; }")
#: ReDoc: the content-type selects of the samples have no label (axe-core's
#: ``select-name``); each gets one, also when ReDoc draws more later.
_REDOC_LABELS = (
    "new MutationObserver(function () {"
    " document.querySelectorAll('#redoc select:not([aria-label])').forEach(function (s) {"
    " s.setAttribute('aria-label', '内容类型'); });"
    "}).observe(document.getElementById('redoc'), {childList: true, subtree: true});")

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def assets() -> dict[str, Asset]:
    """The documentation assets by name, read once from fastapi-offline's package data."""
    root = resources.files("fastapi_offline").joinpath("static")
    out = {}
    for name, media in _FILES.items():
        data = root.joinpath(name).read_bytes()
        if name == "redoc.standalone.js":
            if data.count(_REDOC_LOGO) != 1:
                raise ConfigurationError(
                    "ReDoc 的打包文件与预期不符：请检查 fastapi-offline 的版本（应为 >=1.7.7,<2）")
            data = data.replace(_REDOC_LOGO, _EMPTY_SVG)
        out[name] = Asset(name, data, media, etag_of(data))
    return out


def asset_url(name: str, prefix: str = "") -> str:
    """Root-relative URL of a documentation asset with its content hash."""
    return f"{prefix}{ASSETS_PATH}/{name}?v={assets()[name].etag.split(chr(34))[1][:10]}"


def _head(title: str, prefix: str, css: str | None = None) -> str:
    sheet = f'<link rel="stylesheet" href="{asset_url(css, prefix)}">\n' if css else ""
    return ("<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{title}</title>\n"
            f"<link rel=\"icon\" type=\"image/png\" href=\"{asset_url('favicon.png', prefix)}\">\n"
            f"{sheet}<style>{OVERRIDES}</style>\n</head>\n")


def _script(value: object) -> str:
    """``value`` as JSON safe inside a ``<script>`` element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


@lru_cache(maxsize=16)
def swagger_html(title: str, openapi_url: str, prefix: str) -> bytes:
    """The Swagger UI page for the spec at ``openapi_url``."""
    config = {"url": openapi_url, "dom_id": "#swagger-ui", "layout": "BaseLayout",
              "deepLinking": True, "showExtensions": True, "showCommonExtensions": True,
              "validatorUrl": None}
    return (_head(f"{title} · 接口文档", prefix, "swagger-ui.css")
            + "<body>\n<div id=\"swagger-ui\"></div>\n"
            f"<script src=\"{asset_url('swagger-ui-bundle.js', prefix)}\"></script>\n"
            f"<script>{_SWAGGER_PLUGIN}\nwindow.ui = SwaggerUIBundle(Object.assign("
            f"{_script(config)}, {{presets: [SwaggerUIBundle.presets.apis, "
            "SwaggerUIBundle.SwaggerUIStandalonePreset], plugins: [SmPlainPaths]}));</script>\n"
            "</body>\n</html>\n").encode("utf-8")


@lru_cache(maxsize=16)
def redoc_html(title: str, openapi_url: str, prefix: str) -> bytes:
    """The ReDoc page for the spec at ``openapi_url``."""
    # inline code in a darker red than the theme's (AA contrast on its grey)
    options = {"theme": {"typography": {"fontFamily": FONTS, "headings": {"fontFamily": FONTS},
                                        "code": {"fontFamily": MONO, "color": "#b3261e"}}}}
    return (_head(f"{title} · 接口参考", prefix)
            + "<body>\n<div id=\"redoc\"></div>\n"
            f"<script src=\"{asset_url('redoc.standalone.js', prefix)}\"></script>\n"
            f"<script>{_REDOC_LABELS}\nRedoc.init({_script(openapi_url)}, {_script(options)}, "
            "document.getElementById(\"redoc\"));</script>\n</body>\n</html>\n").encode("utf-8")


def _page(request: Request, settings: Settings, body: bytes) -> Response:
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={settings.cache_max_age_s}"}
    if not_modified(request.headers, etag):
        return Response(status_code=304, headers=headers)
    return HTMLResponse(body, headers=headers)


def _prefix(request: Request) -> str:
    return request.scope.get("root_path", "") or ""


@router.get(DOCS_PATH)
async def swagger_ui(request: Request,
                     settings: Annotated[Settings, Depends(get_settings)]) -> Response:
    app = request.app
    prefix = _prefix(request)
    return _page(request, settings, swagger_html(app.title, prefix + app.openapi_url, prefix))


@router.get(REDOC_PATH)
async def redoc(request: Request,
                settings: Annotated[Settings, Depends(get_settings)]) -> Response:
    app = request.app
    prefix = _prefix(request)
    return _page(request, settings, redoc_html(app.title, prefix + app.openapi_url, prefix))


@router.get(ASSETS_PATH + "/{name}")
async def docs_asset(request: Request, name: str, v: CacheBuster = None) -> Response:
    a = assets().get(name)
    if a is None:
        raise NotFound(f"没有这个文档文件：{name!r}")
    headers = {"ETag": a.etag, "Cache-Control": "public, max-age=604800"}
    if not_modified(request.headers, a.etag):
        return Response(status_code=304, headers=headers)
    return Response(a.data, media_type=a.media_type, headers=headers)
