"""Route modules. Each exposes ``router``; :func:`all_routers` lists them in the
order the app includes them."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    from api.routes import (
        access,
        coverage,
        docs,
        health,
        isochrones,
        maps,
        planner,
        points,
        regions,
        residents,
        scenarios,
        tiles,
    )

    return [health.router, points.router, isochrones.router,
            regions.router,
            planner.router,
            __import__("api.routes.imports", fromlist=["router"]).router,
            tiles.router, maps.router, coverage.router, access.router, scenarios.router,
            residents.router, docs.router]



def front_routes() -> dict:
    """Path → front handler of the route modules that have them (``FRONT_ROUTES``)."""
    from api.routes import isochrones

    return dict(isochrones.FRONT_ROUTES)
