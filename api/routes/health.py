"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api import examples as ex
from api.schemas import Health
from geo.store.engine import check_connection

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", summary="Liveness (the process answers)",
            response_model=Health, response_model_exclude_none=True,
            responses=ex.answer(ex.HEALTHZ))
def healthz(response: Response) -> dict:
    """Answers `{"status": "ok"}` as long as the process serves requests, without touching
    the database (use `/readyz` for that). No token; `Cache-Control: no-store`."""
    response.headers["Cache-Control"] = "no-store"
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", response_model=Health,
            summary="Readiness (the database is reachable); 503 problem+json when not",
            responses=ex.answer(ex.READYZ))
def readyz(request: Request, response: Response) -> dict:
    """Ready when both pools give a connection that answers: the owner's
    (writes) and the reader's (public reads); 503 when the database or a
    pool is unavailable."""
    state = request.app.state
    for engine in {id(e): e for e in (state.engine, state.read_engine)}.values():
        check_connection(engine)
    response.headers["Cache-Control"] = "no-store"
    return {"status": "ok", "database": "reachable"}
