"""Settings (pydantic-settings, environment prefix ``SERVICEMAP_``).

Settings are built by the caller and passed in; nothing here instantiates them
at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration.

    Attributes
    ----------
    database_url
        SQLAlchemy URL of an existing PostgreSQL/PostGIS server. When unset the
        embedded local cluster in ``state_dir`` is used (and started on demand).
    state_dir
        Directory for the embedded cluster's state (data directory, port,
        generated password). Default ``.servicemap`` under the working directory.
    host, port
        Where ``servicemap up`` serves the API.
    default_minutes, default_profile
        The service-circle budget computed by the main job.
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
    tianditu_key
        Key of the Tianditu (天地图) basemap; without it the basemap is not offered.
    public_url
        The address residents reach the server at (QR codes and links in images);
        default: the address of the request.
    default_basemap
        ``offline``, ``osm``, ``tianditu``, ``amap`` or ``tencent``; default: the
        product's own offline basemap (always for synthetic samples).
    """

    model_config = SettingsConfigDict(env_prefix="SERVICEMAP_", extra="ignore")

    database_url: str | None = None
    state_dir: Path = Field(default_factory=lambda: Path.cwd() / ".servicemap")
    db_name: str = "servicemap"
    host: str = "127.0.0.1"
    port: int = 8000
    sample: str = "lishui"
    default_minutes: int = 10
    default_profile: str = "elderly"
    max_snap_m: float = 300.0
    walk_off_m: float = 25.0
    page_max: int = 1000
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 64 * 1_048_576
    cache_max_age_s: int = 60
    cache_ttl_s: float = 5.0
    cache_entries: int = 256
    cache_front: bool = True
    tianditu_key: str | None = None
    public_url: str | None = None
    default_basemap: str | None = None
