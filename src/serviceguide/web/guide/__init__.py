"""Tjänsteguiden's pages: find the address, choose services, give details, review, confirm.

Every step is a page of its own URL, reached by a GET, and works with plain HTML forms. What the
customer enters is kept on the server in the guide's session (services.guide_sessions; the
browser holds a random cookie): every form is POSTed, saved, and answered with a redirect to the
next step's GET (POST-redirect-GET), so Back, Forward and reload never ask to send a form again.
Every step checks everything once more, and confirming is checked by ``place_order`` again.
Confirming places exactly the version of the draft the review page showed, once (the version
is the idempotency key), and redirects to the thank-you page, opened by the order page's token.

URLs::

    GET  /                                   address search form; ?q=TEXT lists matches
    GET  /access/{coid}/{accessId}           the services on that access, to choose from
    GET  /access/{coid}/{accessId}/details   ?service=ID&… → the customer's details form;
                                             ?check=1: the form with what is wrong in it
    POST /access/{coid}/{accessId}/details   save the form; then=review|services|lang says
                                             where to go next (review: when it is all right)
    GET  /access/{coid}/{accessId}/review    everything once more, to confirm
    POST /access/{coid}/{accessId}/confirm   place the orders, redirect to the thank-you page
    GET  /thanks/{token}                     the orders just placed
    GET  /my-orders/{token}                  the customer's order page (the receipt's link)

Every page takes ``?lang=en`` (remembered in a cookie) and ``?adress=`` carries the address
text chosen in the search (shown only once the address search confirms it is that access).
"""

from __future__ import annotations

from fastapi import APIRouter

from serviceguide.web.guide import details, review, search, services, thanks

router = APIRouter(include_in_schema=False)
for step in (search, services, details, review, thanks):
    router.include_router(step.router)
