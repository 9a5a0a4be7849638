"""Cross-site request forgery protection for the guide's forms, and signed page links.

Double submit, signed: the browser holds a random value in an HttpOnly ``SameSite=Lax`` cookie;
every form carries ``HMAC(secret key, value)``. A POST is accepted only when the form's token is
the HMAC of the cookie it arrived with. Another site can make a browser send the cookie but can
neither read it nor compute the HMAC without the server's secret key, and a cookie planted from
a sibling domain does not help either, because its token cannot be forged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from serviceguide.web import secure_cookies

COOKIE = "sg_csrf"
FIELD = "csrf_token"
_COOKIE_MAX_AGE = 60 * 60 * 24 * 30  # a month: an open tab stays usable for long


def _mac(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), f"csrf|{value}".encode(), hashlib.sha256).hexdigest()


def _cookie_ok(value: str | None) -> bool:
    return value is not None and 20 <= len(value) <= 100 and value.isascii()


class CsrfGuard:
    """Issues and checks tokens; one per application (it holds the secret key)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def token(self, request: Request) -> str:
        """The form token for this request's browser; a new cookie value is made if it has none
        (remembered on ``request.state`` so that :meth:`set_cookie` sends it)."""
        value = request.cookies.get(COOKIE)
        if not _cookie_ok(value):
            value = getattr(request.state, "csrf_new", None) or secrets.token_urlsafe(32)
            request.state.csrf_new = value
        assert value is not None
        return _mac(self._secret, value)

    def set_cookie(self, request: Request, response: Response) -> None:
        new = getattr(request.state, "csrf_new", None)
        if new:
            response.set_cookie(
                COOKIE,
                new,
                max_age=_COOKIE_MAX_AGE,
                httponly=True,
                samesite="lax",
                secure=secure_cookies(request),
                path="/",
            )

    def valid(self, request: Request, form: Any) -> bool:
        """Whether the submitted ``form`` carries the token of the cookie it came with."""
        value = request.cookies.get(COOKIE)
        sent = form.get(FIELD)
        # A token is hex; compare_digest raises (a 500) for a str that is not ASCII.
        if not _cookie_ok(value) or not isinstance(sent, str) or not sent.isascii():
            return False
        assert value is not None
        return hmac.compare_digest(_mac(self._secret, value), sent)


class LinkSigner:
    """Signed, timestamped payloads for links only their owner should be able to open."""

    def __init__(self, secret: str, purpose: str) -> None:
        self._s = URLSafeTimedSerializer(secret, salt=f"serviceguide.web.{purpose}")

    def dumps(self, payload: Any) -> str:
        return str(self._s.dumps(payload))

    def loads(self, token: str, max_age: int) -> Any | None:
        """The payload, or ``None`` for a token that is forged, damaged or too old."""
        try:
            return self._s.loads(token, max_age=max_age)
        except BadData:
            return None
