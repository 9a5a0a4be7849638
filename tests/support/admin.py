"""Staff users for the administration's tests: an admin and a handler of every organisation of
the test world, and a platform admin; and a browser without JavaScript that logs in as one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from serviceguide.app import create_app
from serviceguide.domain.roles import Role
from serviceguide.services import admin, platform
from serviceguide.services.context import AppContext
from serviceguide.web import csrf
from tests.integration.test_guide_pages import Browser, Page, post_form

PASSWORD = "admin-password-0123"

#: username → (where, role). The world's organisations: TL1 (xsp 1001), TL2 (1002), KOA, KOB.
USERS: dict[str, tuple[dict[str, Any], Role]] = {
    "tl1.admin": ({"xsp": 1001}, Role.ADMIN),
    "tl1.handler": ({"xsp": 1001}, Role.HANDLER),
    "tl2.admin": ({"xsp": 1002}, Role.ADMIN),
    "koa.admin": ({"coid": "KOA"}, Role.ADMIN),
    "koa.handler": ({"coid": "KOA"}, Role.HANDLER),
    "kob.admin": ({"coid": "KOB"}, Role.ADMIN),
    "platform.admin": ({"platform": True}, Role.ADMIN),
}


async def add_admin_users(ctx: AppContext) -> dict[str, int]:
    """Create :data:`USERS` (all with :data:`PASSWORD`); returns username → organisation id."""
    orgs: dict[str, int] = {}
    for username, (where, role) in USERS.items():
        org = (
            await platform.platform_org(ctx)
            if "platform" in where
            else await admin.find_org(ctx, **where)
        )
        await admin.create_staff_user(
            ctx, org, username, f"{username} Person", password=PASSWORD, role=role
        )
        orgs[username] = org.id
    return orgs


class AdminBrowser(Browser):
    async def login(self, username: str, password: str = PASSWORD) -> Page:
        page = await self.get("/staff/login")
        assert page.status == 200
        page = await self.submit(
            page.form("/staff/login"), {"username": username, "password": password}
        )
        for _ in range(3):  # the platform's start page is its administration
            if page.status != 303:
                break
            page = await self.get(page.response.headers["location"])
        return page

    async def token(self) -> str:
        page = await self.get("/staff/login")
        return dict(page.form("/staff/login").values())[csrf.FIELD]

    async def post(self, url: str, values: dict[str, Any]) -> httpx.Response:
        """A form POST with this browser's valid CSRF token (lists repeat a name)."""
        pairs = [(csrf.FIELD, await self.token())]
        for k, v in values.items():
            pairs += [(k, x) for x in (v if isinstance(v, list) else [v])]
        return await post_form(self.http, url, pairs)


@asynccontextmanager
async def admin_browser(ctx: AppContext, who: str | None = None) -> AsyncIterator[AdminBrowser]:
    """A browser against the app in-process, logged in as ``who`` if given."""
    app = create_app(ctx.settings)
    app.state.ctx = ctx
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50003))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        b = AdminBrowser(http)
        if who is not None:
            page = await b.login(who)
            assert page.status == 200, page.html[:500]
        yield b
