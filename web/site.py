"""The start page and the liveness probe."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from web.context import WebDep

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, web: WebDep) -> Response:
    return web.page(request, "home.html", title="Careers at Warmpool")


@router.get("/healthz")
async def healthz() -> dict:
    return {"ok": True}
