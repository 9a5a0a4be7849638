"""The demo data set: two networks, two service providers, accesses, services, users, orders.

Loading is idempotent. Secrets are derived from the installation's secret key, so a second
``demo-data`` prints the same credentials while only their argon2 hashes are stored, and no two
installations share them. Loading demo data sends no mail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from serviceguide.domain.clock import today_local
from serviceguide.domain.model import Caller, OrgKind
from serviceguide.domain.ordering import CustomerInput, OrderRequest
from serviceguide.domain.personnummer import with_check_digit
from serviceguide.domain.status import MessageType, OrderStatus
from serviceguide.services import admin, orders, placing, sp_settings
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue, identity
from serviceguide.storage import orders as order_repo

ACTIVATION_BASE = "http://127.0.0.1:8001"
#: The demo TL that takes its orders over ON-API 2.6, pushed to ``serviceguide sp-simulator``
#: (``make run`` starts it on this port) with the simulator's credentials.
ONAPI_XSP = 31420
SP_SIMULATOR_BASE = "http://127.0.0.1:8002"


@dataclass(frozen=True)
class DemoKO:
    coid: str
    name: str
    direct_activation: bool


@dataclass(frozen=True)
class DemoTL:
    xsp: int
    name: str
    email: str
    staff: str


@dataclass(frozen=True)
class DemoService:
    id: int
    uid: str
    name: str
    xsp: int
    coid: str
    monthly: str
    once: str
    description: str
    direct: bool = False


KOS = [
    DemoKO("SNFDMO", "Demo Stadsnät", True),
    DemoKO("SNBDMO", "Bergby Stadsnät", False),
]
TLS = [
    DemoTL(31420, "Demo Bredband AB", "orders@demobredband.example", "anna.tl"),
    DemoTL(31421, "Exempel Fiber AB", "order@exempelfiber.example", "erik.tl"),
]
SERVICES = [
    DemoService(2440, "AB100100", "Tjänst 100/100", 31420, "SNFDMO", "299", "0", "100/100 Mbit/s"),
    DemoService(2441, "AB250250", "Tjänst 250/250", 31420, "SNFDMO", "399", "0", "250/250 Mbit/s"),
    DemoService(
        2442,
        "TVBAS",
        "TV Bas",
        31421,
        "SNFDMO",
        "149",
        "295",
        "25 kanaler, direktaktiveras",
        direct=True,
    ),
    DemoService(
        2443, "AB10001000", "Tjänst 1000/1000", 31421, "SNFDMO", "499", "0", "1000/1000 Mbit/s"
    ),
    DemoService(
        2444, "BB100100", "Bredband 100/100", 31421, "SNBDMO", "279", "0", "100/100 Mbit/s"
    ),
    DemoService(
        2445, "BB500500", "Bredband 500/500", 31420, "SNBDMO", "379", "495", "500/500 Mbit/s"
    ),
]

# (coid, accessId, street, number, littera, postal code, city, premises type, apartment)
ACCESSES: list[tuple[str, str, str, str, str, str, str, str, str]] = [
    ("SNFDMO", "AB123", "Demogatan", "123", "", "12345", "Demostad", "RESIDENTIAL_HOUSE", ""),
    *[
        ("SNFDMO", f"AB{n}", "Demogatan", str(n), "", "12345", "Demostad", "RESIDENTIAL_HOUSE", "")
        for n in range(101, 113)
    ],
    *[
        (
            "SNFDMO",
            f"AB2-{apt}",
            "Storgatan",
            "2",
            "",
            "12346",
            "Demostad",
            "RENTAL_APARTMENT",
            str(apt),
        )
        for apt in (1001, 1002, 1101, 1102)
    ],
    ("SNFDMO", "AB7B", "Östra Ågatan", "7", "B", "12347", "Demostad", "COMMERCIAL", ""),
    *[
        ("SNBDMO", f"BB{n:03d}", "Åvägen", str(n), "", "54321", "Bergby", "COUNTRYSIDE", "")
        for n in range(1, 9)
    ],
]

# (firstname, surname, 9 digits YYMMDDNNN, accessId, coid, service ids, final status path)
ORDERS: list[tuple[str, str, str, str, str, list[int], list[OrderStatus]]] = [
    ("Eva", "Ek", "700101123", "AB123", "SNFDMO", [2440], []),
    ("Nils", "Nilsson", "850612345", "AB101", "SNFDMO", [2441], []),
    ("Karin", "Lund", "920315678", "AB102", "SNFDMO", [2440], [OrderStatus.RECEIVED]),
    (
        "Olof",
        "Berg",
        "661124234",
        "AB103",
        "SNFDMO",
        [2440],
        [OrderStatus.RECEIVED, OrderStatus.ACTIVE],
    ),
    (
        "Sara",
        "Holm",
        "010203456",
        "BB001",
        "SNBDMO",
        [2445],
        [OrderStatus.RECEIVED, OrderStatus.ACTIVE, OrderStatus.DELIVERED],
    ),
    (
        "Johan",
        "Strand",
        "780909789",
        "AB104",
        "SNFDMO",
        [2441],
        [OrderStatus.RECEIVED, OrderStatus.CANCELLED],
    ),
    ("Lena", "Åkesson", "550505567", "AB105", "SNFDMO", [2443], []),
    ("Per", "Öberg", "881111890", "AB106", "SNFDMO", [2443], []),
    ("Maria", "Sjö", "990228111", "AB107", "SNFDMO", [2442, 2443], [OrderStatus.DELIVERED]),
    (
        "Ali",
        "Hassan",
        "930707222",
        "BB002",
        "SNBDMO",
        [2444],
        [OrderStatus.RECEIVED, OrderStatus.WAITING],
    ),
]


@dataclass
class DemoResult:
    loaded_now: bool
    data: dict[str, Any] = field(default_factory=dict)


def demo_secret(ctx: AppContext, label: str) -> str:
    """A stable secret for ``label``, unique to this installation's secret key."""
    key = ctx.settings.resolved_secret_key().encode()
    digest = hmac.new(key, f"serviceguide-demo:{label}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


async def _already_loaded(ctx: AppContext) -> bool:
    async with ctx.db.read() as conn:
        return await catalogue.org_by_coid(conn, KOS[0].coid) is not None


async def load(ctx: AppContext) -> DemoResult:
    """Load the demo data unless already there; return what it holds, credentials included."""
    if await _already_loaded(ctx):
        return DemoResult(False, await describe(ctx))
    callers: dict[str, Caller] = {}
    for ko in KOS:
        url = f"{ACTIVATION_BASE}/{ko.coid}/activation" if ko.direct_activation else None
        await admin.create_ko(ctx, ko.coid, ko.name, url)
        org = await admin.find_org(ctx, coid=ko.coid)
        cred = await admin.create_api_user(
            ctx, org, f"{ko.name} API", api_key=demo_secret(ctx, f"api:{ko.coid}")
        )
        callers[ko.coid] = Caller(int(cred.ident), f"{ko.name} API", org.id, org.name, OrgKind.KO)
        await admin.create_staff_user(
            ctx,
            org,
            ko.coid.lower() + ".ko",
            f"{ko.name} staff",
            password=demo_secret(ctx, f"staff:{ko.coid}"),
        )
    for tl in TLS:
        await admin.create_tl(ctx, tl.xsp, tl.name, tl.email)
        org = await admin.find_org(ctx, xsp=tl.xsp)
        cred = await admin.create_api_user(
            ctx, org, f"{tl.name} API", api_key=demo_secret(ctx, f"api:{tl.xsp}")
        )
        callers[str(tl.xsp)] = Caller(
            int(cred.ident), f"{tl.name} API", org.id, org.name, OrgKind.TL
        )
        await admin.create_staff_user(
            ctx, org, tl.staff, f"{tl.name} staff", password=demo_secret(ctx, f"staff:{tl.xsp}")
        )
    for coid, aid, street, num, lit, zipc, city, ptype, apt in ACCESSES:
        await admin.add_access(
            ctx,
            coid=coid,
            access_id=aid,
            street_name=street,
            street_number=num,
            street_littera=lit,
            postal_code=zipc,
            city=city,
            premises_type=ptype,
            mdu_apartment_number=apt,
        )
    for s in SERVICES:
        await admin.create_service(
            ctx,
            xsp=s.xsp,
            coid=s.coid,
            uid=s.uid,
            name=s.name,
            description=s.description,
            price_monthly=s.monthly,
            price_once=s.once,
            direct_activation=s.direct,
            service_id=s.id,
        )
    await _place_sample_orders(ctx, callers)
    await _load_admins(ctx)
    await sp_settings.set_onapi(
        ctx,
        ONAPI_XSP,
        f"{SP_SIMULATOR_BASE}/{ONAPI_XSP}/onapi/2.6",
        username="sim",
        password="sim",  # noqa: S106 - the simulator's documented demo credential
        delivery="onapi",
    )
    return DemoResult(True, await describe(ctx))


async def _place_sample_orders(ctx: AppContext, callers: dict[str, Caller]) -> None:
    direct = {s.id for s in SERVICES if s.direct}
    xsp_of = {s.id: s.xsp for s in SERVICES}
    delivery: date | None = None
    for i, (first, last, nine, aid, coid, service_ids, path) in enumerate(ORDERS):
        delivery = None if i % 3 else today_local() + timedelta(days=14 + i)
        placement = await placing.place_order(
            ctx,
            OrderRequest(
                coid=coid,
                access_id=aid,
                service_ids=service_ids,
                customer=CustomerInput(
                    firstname=first,
                    surname=last,
                    serial=with_check_digit(nine),
                    email=f"{first.lower()}.{last.lower()}@example.se".replace("å", "a")
                    .replace("ä", "a")
                    .replace("ö", "o"),
                    phone=f"070-{1000000 + i * 1111:07d}",
                ),
                delivery=delivery,
                message="Ring innan ni kommer." if i % 4 == 0 else "",
            ),
            notify=False,  # loading demo data sends no mail (as the README promises)
        )
        for placed in placement.orders:
            if placed.service_id in direct:
                # A directly activated service: the network delivered it while it was ordered.
                ko = callers[coid]
                await orders.set_status(ctx, ko, placed.id, OrderStatus.DELIVERED)
                continue
            tl = callers[str(xsp_of[placed.service_id])]
            for status in path:
                await orders.set_status(ctx, tl, placed.id, status)
            if OrderStatus.WAITING in path:
                await orders.add_message(
                    ctx,
                    tl,
                    placed.id,
                    "Kunden behöver ny router, väntar på leverans.",
                    MessageType.ALERT,
                )


async def describe(ctx: AppContext) -> dict[str, Any]:
    """The demo data as `serviceguide demo-data --json` prints it, credentials included."""
    async with ctx.db.read() as conn:
        networks = {n.coid: n for n in await catalogue.list_networks(conn)}
        orgs = await catalogue.list_organisations(conn)
        accesses = await catalogue.list_accesses(conn)
        services = await catalogue.list_services(conn)
        all_orders = await order_repo.all_orders_brief(conn)
        api_user_ids = {org.id: await identity.first_api_user_of(conn, org.id) for org in orgs}
        onapi = await sp_settings.all_settings(conn)
    by_org = {o.id: o for o in orgs}
    kos: list[dict[str, Any]] = []
    tls: list[dict[str, Any]] = []
    staff: list[dict[str, Any]] = []
    for ko in KOS:
        org = next(o for o in orgs if o.coid == ko.coid)
        kos.append(
            {
                "coid": ko.coid,
                "name": org.name,
                "api_user": api_user_ids[org.id],
                "api_key": demo_secret(ctx, f"api:{ko.coid}"),
                "activation_url": networks[ko.coid].activation_url,
            }
        )
        staff.append(
            {
                "coid": ko.coid,
                "username": ko.coid.lower() + ".ko",
                "password": demo_secret(ctx, f"staff:{ko.coid}"),
                "role": "handler",
            }
        )
    coid_of_network = {n.id: n.coid for n in networks.values()}
    for tl in TLS:
        org = next(o for o in orgs if o.xsp == tl.xsp)
        tls.append(
            {
                "xsp": tl.xsp,
                "name": org.name,
                "email": org.order_email,
                "api_user": api_user_ids[org.id],
                "api_key": demo_secret(ctx, f"api:{tl.xsp}"),
                # Where its orders are pushed over ON-API (None: by e-mail only) and how.
                "onapi_url": onapi[org.id].url if org.id in onapi else None,
                "delivery": onapi[org.id].delivery.value if org.id in onapi else "mail",
                "services": [
                    {
                        "id": s.id,
                        "uid": s.uid,
                        "name": s.name,
                        "coid": coid_of_network[s.network_id],
                        "direct_activation": s.direct_activation,
                    }
                    for s in services
                    if by_org[s.tl_org_id].xsp == tl.xsp
                ],
            }
        )
        staff.append(
            {
                "xsp": tl.xsp,
                "username": tl.staff,
                "password": demo_secret(ctx, f"staff:{tl.xsp}"),
                "role": "handler",
            }
        )
    staff += _describe_admins(ctx)
    return {
        "kos": kos,
        "tls": tls,
        "accesses": [
            {
                "coid": a.coid,
                "accessId": a.access_id,
                "address": f"{a.street_address}, {a.postal_code} {a.city}",
            }
            for a in accesses
        ],
        "staff": staff,
        "orders": all_orders,
    }


# --- the administrators: one per KO and TL, and the platform's ------------------------------------

#: (where, username, name): an admin for every organisation, beside the handlers above.
ADMINS: list[tuple[dict[str, Any], str, str]] = [
    *[({"coid": ko.coid}, f"{ko.coid.lower()}.admin", f"{ko.name} admin") for ko in KOS],
    ({"xsp": 31420}, "lisa.admin", "Lisa Demo Bredband (admin)"),
    ({"xsp": 31421}, "olle.admin", "Olle Exempel Fiber (admin)"),
    ({"platform": True}, "plattform.admin", "Plattformens admin"),
]


def _admin_label(where: dict[str, Any]) -> str:
    return "platform" if "platform" in where else str(where.get("coid") or where.get("xsp"))


async def _load_admins(ctx: AppContext) -> None:
    from serviceguide.domain.roles import Role
    from serviceguide.services import platform

    for where, username, name in ADMINS:
        org = (
            await platform.platform_org(ctx)
            if "platform" in where
            else await admin.find_org(ctx, **where)
        )
        await admin.create_staff_user(
            ctx,
            org,
            username,
            name,
            password=demo_secret(ctx, f"admin:{_admin_label(where)}"),
            role=Role.ADMIN,
        )


def _describe_admins(ctx: AppContext) -> list[dict[str, Any]]:
    return [
        {
            **where,
            "username": username,
            "password": demo_secret(ctx, f"admin:{_admin_label(where)}"),
            "role": "admin",
        }
        for where, username, _name in ADMINS
    ]
