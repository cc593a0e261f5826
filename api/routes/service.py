"""`GET /healthz`: the API answers, without authentication."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["service"])


@router.get("/healthz", summary="Liveness: the API answers (no authentication)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
