"""The browser's end of the guide's server-side session (services.guide_sessions): a random
token in an HttpOnly, ``SameSite=Lax`` cookie, made when the first draft is saved."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from serviceguide.services import guide_sessions
from serviceguide.web import secure_cookies
from serviceguide.web.guide.draft import Draft
from serviceguide.web.guide.page import Page, app_ctx

COOKIE = "sg_guide"


class GuideSession:
    """The session of one request: its draft, and the cookie to set when one was made."""

    def __init__(self, request: Request) -> None:
        self.request = request
        raw = request.cookies.get(COOKIE)
        self.token = raw if guide_sessions.valid_token(raw) else None
        self._made = False

    async def draft(self) -> Draft | None:
        return Draft.from_dict(await guide_sessions.load(app_ctx(self.request), self.token))

    async def save(self, draft: Draft) -> None:
        if self.token is None:
            self.token = guide_sessions.new_token()
            self._made = True
        await guide_sessions.save(app_ctx(self.request), self.token, draft.to_dict())

    def redirect(self, page: Page, url: str) -> Response:
        """A 303 to ``url`` (a GET), with the session's cookie if it was just made."""
        response = page.redirect(url)
        if self._made and self.token:
            response.set_cookie(
                COOKIE,
                self.token,
                httponly=True,
                samesite="lax",
                secure=secure_cookies(self.request),
                path="/",
            )
        return response
