"""The FastAPI application, built by :func:`create_app` from settings."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from sqlalchemy.engine import Engine

from api import problems
from api.routes import all_routers
from geo.config import Settings
from geo.db.engine import make_engine, resolve_url


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the app. ``engine`` defaults to one on the configured database."""
    if engine is None:
        engine = make_engine(resolve_url(settings), pool_size=10, max_overflow=20)
    app = FastAPI(title="ServiceMap 党群服务地图 API", version="0.1.0",
                  description="Service points, service circles and coverage of grassroots "
                              "party-mass service positions. Coordinates are WGS-84 unless "
                              "a `crs` parameter says otherwise.")
    app.state.settings = settings
    app.state.engine = engine
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    problems.install(app)
    for router in all_routers():
        app.include_router(router)
    return app
