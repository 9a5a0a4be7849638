"""The administration pages under ``/staff/admin/``: KOs, TLs and the platform run their own part
of the installation. One module per page group; what they share is in ``page``.

Every page needs a staff session (the login page of the staff pages); every form carries the
CSRF token; every page and action calls a service function that checks the signed-in user's
role and organisation first (a handler gets 403, another organisation's object is a 404). The
sections an admin sees depend on the kind of organisation:

- a TL: ``services``, ``delivery``, ``api-users``, ``webhooks``, ``users``, ``log``
- a KO: ``network``, ``accesses``, ``api-users``, ``webhooks``, ``users``, ``log``
- the platform: ``platform``, ``users``, ``log``
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from serviceguide.web.admin import (
    accesses,
    api_users,
    audit,
    delivery,
    network,
    platform,
    services,
    users,
    webhooks,
)
from serviceguide.web.admin.page import AdminPage
from serviceguide.web.staff.page import current_session

router = APIRouter()
for pages in (
    users, api_users, audit, services, delivery, network, accesses, webhooks, platform,
):  # fmt: skip
    router.include_router(pages.router)


async def forbidden_page(request: Request, exc: Exception) -> Response:
    """The 403 page for a :class:`Forbidden` that reached the application."""
    return AdminPage(request, await current_session(request)).role_forbidden()
