"""Settings of the web server and the main job, and :class:`Settings`, all of
them together (environment prefix ``SERVICEMAP_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from geo.settings import GeoSettings, SettingsBase
from maps.settings import MapSettings

__all__ = ["ApiSettings", "Settings"]


class ApiSettings(SettingsBase):
    """The web server.

    Attributes
    ----------
    host, port
        Where ``servicemap up`` serves the API.
    sample
        Sample town ``servicemap up`` loads into an empty database.
    town_region, town_osm, town_points, town_villages, town_population, town_bbox
        A real town instead of the sample: when ``town_osm`` and ``town_region`` are
        set, ``servicemap up`` runs ``servicemap town create`` with them into an
        empty database (``town_bbox`` as ``"W,S,E,N"``).
    page_max
        Hard maximum of items in one page of a list endpoint.
    cors_origins
        Origins (e.g. the town's H5 domains, ``https://h5.lishui.example``) allowed
        to call the API from a browser; empty: no cross-origin access. From the
        environment as a JSON list: ``SERVICEMAP_CORS_ORIGINS='["https://a.example"]'``.
    max_body_bytes, max_upload_bytes
        Largest request body accepted (413 beyond); ``multipart/form-data``
        uploads get the larger limit.
    cache_max_age_s
        ``Cache-Control: public, max-age=...`` of public GET responses, seconds.
    cache_ttl_s
        How long the API process reuses a built public response, seconds (0:
        never). Writes through the API clear it at once; writes by other
        processes show after at most this long.
    cache_entries
        Most public responses kept in the process's cache.
    cache_front
        Answer a fresh cached public GET before routing (in the app's
        middleware, like a caching proxy), skipping parameter parsing.
    allowed_hosts
        ``Host`` values absolute URLs (TileJSON, QR codes, icon links) may be
        built from when ``SERVICEMAP_PUBLIC_URL`` is not set, besides the
        server's own address and ``localhost``; any other ``Host`` gets the
        server's own address, never the client's.
    frame_ancestors
        Origins allowed to frame the embeddable pages (``/embed/...``), e.g. the
        town's H5 site ``https://h5.lishui.example``; the other pages may be
        framed by the server itself only.
    body_timeout_s
        How long the server waits for the rest of a request body (408 and the
        connection closed after that), seconds.
    limit_concurrency
        Most connections and tasks the server keeps at once (503 beyond).
    keep_alive_s
        How long an idle keep-alive connection stays open, seconds.
    rate_limit, rate_limit_auth_failures, rate_limit_expensive, rate_limit_expensive_token
        Budgets (``N/second|minute|hour``) of every request per client address,
        of failed authentications per address, and of expensive analytics per
        address without a token and per token (see :mod:`api.limits`).
    rate_limit_submissions
        Residents' submissions (one-time codes, wishes, ratings) per client
        address; a phone has its own limits (``otp_per_phone_hour``,
        ``submissions_per_phone_day``).
    trusted_proxies
        Peers whose ``X-Forwarded-For`` names the client (a reverse proxy on the
        machine); their own requests without it are local and not rate-limited.
    expensive_concurrency
        Expensive analytics computed at once (503 beyond, after ``pool_timeout_s``).
    request_deadline_s
        Longest a request may take before it is answered 503 (its work may go on
        in the background; its SQL is cancelled after ``statement_timeout_s``).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    sample: str = "lishui"
    town_region: str | None = None
    town_osm: Path | None = None
    town_points: Path | None = None
    town_villages: Path | None = None
    town_population: Path | None = None
    town_bbox: str | None = None
    page_max: int = 1000
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 64 * 1_048_576
    cache_max_age_s: int = 60
    cache_ttl_s: float = 5.0
    cache_entries: int = 256
    cache_front: bool = True
    allowed_hosts: list[str] = Field(default_factory=list)
    frame_ancestors: list[str] = Field(default_factory=list)
    body_timeout_s: float = Field(15.0, gt=0, le=600)
    limit_concurrency: int = Field(1000, ge=10)
    keep_alive_s: float = Field(5.0, gt=0, le=300)
    rate_limit: str = "6000/minute"
    rate_limit_auth_failures: str = "20/minute"
    rate_limit_expensive: str = "30/minute"
    rate_limit_expensive_token: str = "300/minute"
    rate_limit_submissions: str = "30/hour"
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    expensive_concurrency: int = Field(2, ge=1, le=64)
    request_deadline_s: float = Field(60.0, gt=0, le=3600)


class Settings(GeoSettings, MapSettings, ApiSettings):
    """All settings: what ``servicemap`` and :func:`api.app.create_app` take."""
