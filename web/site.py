"""The start page, the liveness probe, and the brand (``warmpool.config.Brand``): its colours as a
style sheet, its logo, and the sandbox's demo privacy notice."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from web.context import WebDep

router = APIRouter()

DEMO_PRIVACY_NOTICE = "/privacy-notice"


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, web: WebDep) -> Response:
    return web.page(request, "home.html", title=f"Careers at {web.brand.company_name}")


@router.get("/healthz")
async def healthz() -> dict:
    return {"ok": True}


@router.get("/brand.css", include_in_schema=False)
async def brand_css(web: WebDep) -> Response:
    # The configured colours (validated #rrggbb, so nothing else can reach the style sheet) override
    # style.css's defaults; a file, not inline style, so the CSP stays `style-src 'self'`.
    b = web.brand
    css = (f":root {{ --brand:{b.primary_color}; --brand-dark:{b.primary_dark_color}; "
           f"--brand-accent:{b.accent_color}; }}\n")
    return Response(css, media_type="text/css", headers={"cache-control": "public, max-age=300"})


@router.get("/brand/logo", include_in_schema=False)
async def brand_logo(web: WebDep) -> Response:
    if web.brand.logo_file is None:
        raise HTTPException(404, "No logo is configured.")
    return FileResponse(web.brand.logo_file, media_type=web.brand.logo_type,
                        headers={"cache-control": "public, max-age=300"})


@router.get(DEMO_PRIVACY_NOTICE, response_class=HTMLResponse)
async def privacy_notice(request: Request, web: WebDep) -> Response:
    # Served only while the brand links here (the sandbox's demo brand): a company links its own notice.
    if web.brand.privacy_notice_url != DEMO_PRIVACY_NOTICE:
        raise HTTPException(404, "Not found.")
    return web.page(request, "privacy_notice.html", title="Privacy notice")
