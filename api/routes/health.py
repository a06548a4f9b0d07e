from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.engine import Engine

from api.deps import get_engine
from geo.db.engine import check_connection

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", summary="Liveness")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", summary="Readiness (database reachable)")
def readyz(engine: Engine = Depends(get_engine)) -> dict:
    check_connection(engine)
    return {"status": "ok", "database": "reachable"}
