"""Route modules. Each exposes ``router``; :func:`all_routers` lists them in the
order the app includes them."""

from __future__ import annotations

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    from api.routes import health, isochrones, points

    return [health.router, points.router, isochrones.router]
