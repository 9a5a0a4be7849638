"""Tjänsteguiden's pages: find the address, choose services, give details, review, confirm.

Every step works with plain HTML forms. Nothing is kept on the server between steps: the
choices travel in the URL (address, services) and, once personal data is involved, in hidden
fields of POSTed forms; every step checks all it receives again, and confirming is checked by
``place_order`` once more. The review page creates a random idempotency key, so a double click
or a reload of the confirm POST places the orders once. After confirming, the browser is
redirected (POST-redirect-GET) to a thank-you page whose link is signed.

URLs::

    GET  /                                   address search form; ?q=TEXT lists matches
    GET  /access/{coid}/{accessId}           the services on that access, to choose from
    GET  /access/{coid}/{accessId}/details   ?service=ID&… → the customer's details form
    POST /access/{coid}/{accessId}/details   the same form, filled in again (from review)
    POST /access/{coid}/{accessId}/review    check the details, show everything to confirm
    POST /access/{coid}/{accessId}/confirm   place the orders, redirect to the thank-you page
    GET  /thanks/{customer}?t=SIGNED         the order numbers

Every page takes ``?lang=en`` (remembered in a cookie) and ``?adress=`` carries the address
text chosen in the search (shown only once the address search confirms it is that access).
"""

from __future__ import annotations

from fastapi import APIRouter

from serviceguide.web.guide import details, review, search, services, thanks

router = APIRouter(include_in_schema=False)
for step in (search, services, details, review, thanks):
    router.include_router(step.router)
