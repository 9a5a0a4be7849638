"""Who may administer what: staff roles, the actor behind an administrative change, and the rules
every administrative use case applies before it reads or changes anything.

A staff user is a ``handler`` (the order pages) or an ``admin`` (the order pages and the
administration of its own organisation). Staff of the **platform** organisation run the
installation: they are always admins, create KOs and TLs with their first admins, see every
organisation's settings and the admin log, and see no orders or customer data.

The rules answer in two ways, as the order pages do: a caller who may not do a thing at all gets
:class:`Forbidden` (a handler on an administration page, a KO admin on the TL's services page),
and an object of another organisation is :class:`NotFound`, the same answer as for an id that
does not exist. The command line acts as the **operator**, who holds the server and may do
everything; its changes are written to the admin log like anyone's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from serviceguide.domain.errors import Forbidden, InvalidInput, NotFound
from serviceguide.domain.model import Caller, OrgKind


class Role(StrEnum):
    HANDLER = "handler"  # the order pages
    ADMIN = "admin"  # the order pages and the administration of its own organisation


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes an administrative change: a signed-in staff user, or the operator (the CLI)."""

    name: str  # as the admin log shows it: "Anna Admin (anna.admin)", "command line (root)"
    org_name: str
    user_id: int | None = None  # the staff user; None for the operator
    org_id: int | None = None
    org_kind: OrgKind | None = None
    role: Role | None = None

    @property
    def is_operator(self) -> bool:
        return self.user_id is None

    @property
    def is_platform(self) -> bool:
        return self.org_kind == OrgKind.PLATFORM

    @classmethod
    def operator(cls, who: str) -> Actor:
        return cls(name=f"command line ({who})", org_name="the server")

    @classmethod
    def staff(cls, caller: Caller, username: str, role: Role) -> Actor:
        return cls(
            name=f"{caller.user_name} ({username})",
            org_name=caller.org_name,
            user_id=caller.user_id,
            org_id=caller.org_id,
            org_kind=caller.org_kind,
            role=role,
        )


def require_admin(actor: Actor, *kinds: OrgKind) -> None:
    """The actor is the operator, or an admin of an organisation of one of ``kinds``."""
    if actor.is_operator:
        return
    if actor.role != Role.ADMIN or actor.org_kind not in kinds:
        raise Forbidden()


def require_own(actor: Actor, org_id: int | None, what: str, ident: object) -> None:
    """The object (of organisation ``org_id``; None: it does not exist) is the actor's
    organisation's; anything else is not found. The operator may reach every object."""
    if org_id is None or (not actor.is_operator and org_id != actor.org_id):
        raise NotFound(what, ident)


def require_order_handling(caller: Caller) -> None:
    """Orders and customers are for the KO and TL that they concern: never the platform's."""
    if caller.org_kind == OrgKind.PLATFORM:
        raise Forbidden("The platform's staff do not handle orders")


# --- the fields of a staff user or API user ------------------------------------------------------

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{1,99}$")
NAME_MAX = 200


def check_username(value: str) -> str:
    value = value.strip()
    if not USERNAME.match(value):
        raise InvalidInput(
            "username",
            "username: 2-100 of the letters a-z and A-Z, digits and . _ @ + -, "
            "starting with a letter or digit",
        )
    return value


def check_name(value: str, field: str = "name") -> str:
    """A person's or an API user's name: required, at most 200 characters, no control
    characters."""
    value = value.strip()
    if not value:
        raise InvalidInput(field, f"{field} is required")
    if len(value) > NAME_MAX:
        raise InvalidInput(field, f"{field}: at most {NAME_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(field, f"{field} must not hold control characters")
    return value


def parse_role(value: str | Role, *, platform: bool = False) -> Role:
    """The role named by ``value``; the platform's staff are always admins."""
    try:
        role = Role(str(value).strip().lower())
    except ValueError:
        raise InvalidInput("role", "role must be handler or admin") from None
    if platform and role != Role.ADMIN:
        raise InvalidInput("role", "the platform's staff are always admins")
    return role
