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
