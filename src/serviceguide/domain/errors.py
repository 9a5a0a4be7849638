"""Errors the domain and the services raise; entry points map them to their protocol."""

from __future__ import annotations


class DomainError(Exception):
    """Base class for every expected, user-facing failure."""


class InvalidInput(DomainError):
    """A parameter or field is missing or malformed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotFound(DomainError):
    """No such thing, or one the caller may not see: the two are deliberately the same."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"No {what} with id {ident}")
        self.what = what
        self.ident = ident


class Forbidden(DomainError):
    """Signed in, and not allowed to do this (a handler on an administration page). Another
    organisation's object is :class:`NotFound` instead, so that its existence is not told."""

    def __init__(self, message: str = "Not allowed for your role") -> None:
        super().__init__(message)


class TransitionNotAllowed(DomainError):
    def __init__(self, current: str, new: str) -> None:
        super().__init__(f"Status change from {current} to {new} is not allowed")
        self.current = current
        self.new = new


class AuthenticationFailed(DomainError):
    """Bad credentials, or a missing, unknown or expired login hash."""


class Throttled(DomainError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class Conflict(DomainError):
    """A request that contradicts an earlier one (e.g. an Idempotency-Key reused)."""


class DuplicateOrder(Conflict):
    """The same person already has open orders for the same services at the same access,
    placed lately: placing again needs an explicit confirmation. ``orders``: their ids."""

    def __init__(self, orders: list[int]) -> None:
        ids = ", ".join(map(str, orders))
        super().__init__(
            "Open orders for the same service at this access were placed in the last 24 hours "
            f"by the same person: {ids}. Send confirm_duplicate: true to order again."
        )
        self.orders = orders
