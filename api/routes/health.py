"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.engine import Engine

from api.deps import get_engine
from api.schemas import Health
from geo.store.engine import check_connection

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", summary="Liveness (the process answers)",
            response_model=Health, response_model_exclude_none=True)
def healthz(response: Response) -> dict:
    response.headers["Cache-Control"] = "no-store"
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", response_model=Health,
            summary="Readiness (the database is reachable); 503 problem+json when not")
def readyz(response: Response, engine: Engine = Depends(get_engine)) -> dict:
    check_connection(engine)
    response.headers["Cache-Control"] = "no-store"
    return {"status": "ok", "database": "reachable"}
