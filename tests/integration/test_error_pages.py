"""Unknown URLs and server errors: a page in the site's look for a browser, the JSON an API
client always got; and the API reference at /docs, whose files come from the installed Swagger
UI package (nothing from the internet)."""

from __future__ import annotations

import re

import httpx
import pytest

from serviceguide.app import create_app
from serviceguide.services.context import AppContext

pytestmark = pytest.mark.integration

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _client(ctx: AppContext, app=None) -> httpx.AsyncClient:
    app = app or create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_an_unknown_url_is_a_page_for_a_browser_and_json_for_an_api_client(ctx: AppContext):
    async with _client(ctx) as http:
        page = await http.get("/no/such/page", headers=HTML)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "<h1>Sidan finns inte</h1>" in page.text
        assert '<link rel="stylesheet" href="/static/guide.css' in page.text  # the site's look
        assert "script-src 'self'" in page.headers["content-security-policy"]
        english = await http.get("/no/such/page?lang=en", headers=HTML)
        assert "<h1>Page not found</h1>" in english.text and '<html lang="en">' in english.text
        for path, headers in (("/no/such/page", {}), ("/api/guide/nope", HTML)):
            r = await http.get(path, headers=headers)
            assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
        refused = await http.get("/access/KOA/A1/confirm", headers=HTML)  # a form's URL
        assert refused.status_code == 405 and "Sidan finns inte" in refused.text
        assert "POST" in refused.headers["allow"]


async def test_a_server_error_is_a_page_in_the_sites_look_and_json_for_the_api(ctx: AppContext):
    app = create_app(ctx.settings)

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    app.add_api_route("/api/boom", boom)
    async with _client(ctx, app) as http:
        page = await http.get("/boom", headers=HTML)
        assert page.status_code == 500 and "<h1>Något gick fel</h1>" in page.text
        assert "a bug" not in page.text and "Traceback" not in page.text
        assert '<link rel="stylesheet" href="/static/guide.css' in page.text
        api = await http.get("/api/boom")
        assert api.status_code == 500 and api.json() == {"detail": "Internal server error"}


async def test_the_api_reference_loads_swagger_ui_from_the_server_itself(ctx: AppContext):
    async with _client(ctx) as http:
        docs = await http.get("/docs")
        assert docs.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
        for src in sources:
            asset = await http.get(src)
            assert asset.status_code == 200 and len(asset.content) > 500, src
        assert "/openapi.json" in docs.text
        assert (await http.get("/redoc")).status_code == 404  # it would load from a CDN
