"""The staff pages: manual handling of orders for service providers (TL) and network owners (KO).

URLs (all under ``/staff``; every page but the login needs a session)::

    GET  /staff/                       overview: counts, 30-day chart, oldest open, flags, failures
    GET  /staff/login?next=/staff/…    the login form;  POST: log in, redirect to ``next``
    POST /staff/logout
    GET  /staff/password               change one's own password;  POST: change it
    GET  /staff/orders                 the filtered list, newest first, ``?before=ID`` pages
    GET  /staff/orders.csv             the same filter as CSV (UTF-8 with BOM, ``;``-separated)
    GET  /staff/orders/{id}            the order page (the link in the order e-mail)
    POST /staff/orders/{id}/status     change status (only allowed next statuses)
    POST /staff/orders/{id}/message    add a message to the log
    POST /staff/orders/{id}/flag       set or clear the organisation's follow-up flag
    POST /staff/orders/{id}/reveal     show the full personnummer (written to the log)

Another organisation's order is a 404 exactly like a missing one, on every URL. Every form
carries the guide's double-submit CSRF token; a POST without a valid one is refused (403) before
anything else is looked at. The session cookie holds a random token signed with the secret key;
the server keeps only its SHA-256.
"""

from __future__ import annotations

from fastapi import APIRouter

from serviceguide.web.staff import login, order_list, order_page, overview

router = APIRouter()
for pages in (login, order_list, order_page, overview):
    router.include_router(pages.router)
