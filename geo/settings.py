"""Settings of the domain layer (pydantic-settings, environment prefix ``SERVICEMAP_``).

Settings are split by concern: the store (:class:`StoreSettings`), the
analyses (:class:`AnalysisSettings`), the maps (:class:`maps.settings.MapSettings`)
and the web server (:class:`api.settings.ApiSettings`); :class:`api.settings.Settings`
combines them and is what the ``servicemap`` command and ``create_app`` take.
Each layer types its functions with the part it reads. Settings are built by
the caller and passed in; nothing here instantiates them at import time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AnalysisSettings", "GeoSettings", "SettingsBase", "StoreSettings", "parse_area"]


def parse_area(text: str) -> tuple[float, float, float, float]:
    """``"W,S,E,N"`` (degrees) → a box; :class:`ValueError` when it is not one."""
    parts = [p for p in re.split(r"[,，\s]+", text.strip()) if p]
    if len(parts) != 4:
        raise ValueError(f"operating area {text!r}: expected W,S,E,N")
    w, s, e, n = (float(p) for p in parts)
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ValueError(f"operating area {text!r}: expected W < E, S < N within ±180/±90")
    return (w, s, e, n)


class SettingsBase(BaseSettings):
    """Common configuration of every settings class: the ``SERVICEMAP_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="SERVICEMAP_", extra="ignore")


class StoreSettings(SettingsBase):
    """Where the data lives.

    Attributes
    ----------
    database_url
        SQLAlchemy URL of an existing PostgreSQL/PostGIS server. When unset the
        embedded local cluster in ``state_dir`` is used (and started on demand).
    state_dir
        Directory for the embedded cluster's state (data directory, port,
        generated password). Default ``.servicemap`` under the working directory.
    db_name
        Database of the embedded cluster.
    pool_size, pool_max_overflow
        Connections an engine keeps open, and how many more it may open under
        load (each web request holds at most one).
    pool_timeout_s
        How long a request waits for a free connection before it is answered
        503 (``Retry-After``), seconds: well below a client's patience.
    statement_timeout_s
        Longest SQL statement of a web request, seconds (PostgreSQL cancels it:
        503); 0 for none. Command-line jobs are not limited.
    read_database_url
        URL of the same database as a read-only role without access to personal
        data, for the web app's public read paths (:mod:`geo.store.roles`). The
        embedded cluster has one (``servicemap_reader``); with an external
        ``database_url`` and no ``read_database_url``, public reads use the
        main URL.
    operating_area
        Where the data may lie, ``"W,S,E,N"`` in degrees (imports and edits refuse
        coordinates outside it). Unset: from the regions loaded (before any region,
        the walking network), else China (:func:`geo.regions.operating_area`).
    """

    database_url: str | None = None
    read_database_url: str | None = None
    state_dir: Path = Field(default_factory=lambda: Path.cwd() / ".servicemap")
    db_name: str = "servicemap"
    pool_size: int = Field(10, ge=1, le=200)
    pool_max_overflow: int = Field(20, ge=0, le=500)
    pool_timeout_s: float = Field(5.0, gt=0, le=120)
    statement_timeout_s: float = Field(30.0, ge=0, le=3600)
    operating_area: str | None = None

    @field_validator("operating_area")
    @classmethod
    def _area(cls, v: str | None) -> str | None:
        if v is not None and v.strip():
            parse_area(v)  # ValueError: pydantic reports it with the setting's name
            return v.strip()
        return None

    def area_box(self) -> tuple[float, float, float, float] | None:
        """The configured operating area as a box, or ``None``."""
        if not self.operating_area:
            return None
        return parse_area(self.operating_area)


class AnalysisSettings(SettingsBase):
    """How service circles are drawn and measured.

    Attributes
    ----------
    default_minutes, default_profile
        The service-circle budget computed by the main job and used when a
        request names none (minutes; ``standard``, ``adult`` or ``elderly``).
    max_snap_m
        Farthest a location may lie from the walking network and still walk
        on it, metres.
    walk_off_m
        Distance from a walked street to a door still served, metres.
    """

    default_minutes: int = 10
    default_profile: str = "elderly"
    max_snap_m: float = 300.0
    walk_off_m: float = 25.0


class ResidentSettings(SettingsBase):
    """The residents' side (:mod:`geo.residents`): the workflow's clocks,
    one-time codes and submission limits.

    Attributes
    ----------
    wish_review_days, wish_claim_days, wish_fulfil_days
        A posted wish not reviewed, a published wish not claimed, a claimed
        wish not fulfilled after this many days is overdue (listed for the
        village staff).
    wish_points
        积分 a claimant earns for a fulfilled wish (split evenly between the
        claimants of the wish, rounded up).
    otp_sender
        Where one-time codes go: ``console`` (the log, and an in-memory outbox
        for tests) or ``module:callable`` of an SMS gateway (see
        :class:`geo.residents.otp.Sender`).
    otp_ttl_s, otp_attempts, otp_per_phone_hour, otp_resend_s
        A code's life, wrong tries before it is spent, codes per phone per
        hour, and the wait before another code for the same phone.
    submissions_per_phone_day
        Wishes one phone may post per day.
    rating_period
        ``quarter``, ``month`` or ``year``: one rating per phone, position and period.
    """

    wish_review_days: int = Field(3, ge=1, le=365)
    wish_claim_days: int = Field(7, ge=1, le=365)
    wish_fulfil_days: int = Field(30, ge=1, le=365)
    wish_points: int = Field(10, ge=0, le=1000)
    otp_sender: str = "console"
    otp_ttl_s: int = Field(300, ge=30, le=3600)
    otp_attempts: int = Field(5, ge=1, le=20)
    otp_per_phone_hour: int = Field(5, ge=1, le=10_000)
    otp_resend_s: int = Field(60, ge=0, le=3600)
    submissions_per_phone_day: int = Field(5, ge=1, le=1000)
    rating_period: Literal["quarter", "month", "year"] = "quarter"


class BatchSettings(SettingsBase):
    """Province-wide batch analytics (:mod:`geo.batch`) on Dask distributed.

    Attributes
    ----------
    dask_scheduler
        Address of a running Dask scheduler (``tcp://10.0.0.5:8786``) for a real
        cluster; empty: a ``LocalCluster`` on this machine.
    dask_workers
        Worker processes of the local cluster (one thread each).
    dask_connect_timeout_s
        How long to wait for the scheduler before refusing (never hangs).
    batch_halo_m
        The walking network of a town's tasks reaches this far past its border,
        so residents at the border are served by the neighbour's positions and
        walk through the neighbour's streets, metres.
    batch_memory_fraction
        Share of this machine's available memory a run may plan to use; a run
        whose estimate needs more is refused before it starts.
    """

    dask_scheduler: str = ""
    dask_workers: int = Field(2, ge=1, le=256)
    dask_connect_timeout_s: float = Field(5.0, gt=0, le=120)
    batch_halo_m: float = Field(2000.0, ge=0, le=20_000)
    batch_memory_fraction: float = Field(0.8, gt=0, le=1)


class GeoSettings(StoreSettings, AnalysisSettings, ResidentSettings, BatchSettings):
    """Everything the domain layer reads."""
