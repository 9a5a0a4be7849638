"""What the OpenAPI description (``/openapi.json``) holds beside what FastAPI derives from the
routes: the XSP API's forms, one per method (serviceguide.api.xsp_openapi), which depend on the
settings, and the ways to authenticate."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from serviceguide.api import onapi, xsp_openapi
from serviceguide.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    derived = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = derived()
            components = doc.setdefault("components", {})
            components.setdefault("schemas", {}).update(
                xsp_openapi.components(settings.message_max_length)
            )
            components.setdefault("securitySchemes", {}).update(
                {**xsp_openapi.SECURITY_SCHEMES, **onapi.SECURITY_SCHEMES}
            )
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
