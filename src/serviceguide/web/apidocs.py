"""The interactive API reference (Swagger UI) at ``/docs``, working without internet access: its
script and style are served from the installed ``fastapi-offline`` package (pinned in
pyproject.toml; it ships Swagger UI 5, which reads the OpenAPI 3.1 description FastAPI makes)
under ``/docs/assets/``, never fetched from a CDN. ``/openapi.json`` is the description it
shows."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS = "/docs/assets"
#: Swagger UI's files as the package ships them.
FILES = Path(fastapi_offline.__file__).parent / "static"


def install(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=FILES), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} – API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )
