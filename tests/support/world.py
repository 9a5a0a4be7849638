"""A small, known world: two KOs, two TLs, accesses, services, API users and orders."""

from __future__ import annotations

from dataclasses import dataclass, field

from serviceguide.domain.ordering import CustomerInput, OrderRequest
from serviceguide.domain.personnummer import with_check_digit
from serviceguide.services import admin, placing
from serviceguide.services.context import AppContext


@dataclass(frozen=True)
class Login:
    api_user: int
    api_key: str


@dataclass
class World:
    users: dict[str, Login] = field(default_factory=dict)  # "KOA", "KOB", "TL1", "TL2", ...
    orders: dict[str, int] = field(default_factory=dict)  # "o1"...
    customers: dict[str, int] = field(default_factory=dict)  # "c1"...

    def visible_orders(self, who: str) -> set[int]:
        return {self.orders[o] for o in VISIBLE[who]}


# Which orders each organisation may see. TL1 sells S1 (KOA) and S3 (KOB); TL2 sells S2 (KOA).
#   o1: TL1/S1 on KOA, o2: TL2/S2 on KOA, o3: TL1/S3 on KOB, o4: TL1/S1 + o5: TL2/S2 on KOA
#   (o4 and o5 share customer c4).
VISIBLE = {
    "TL1": ["o1", "o3", "o4"],
    "TL2": ["o2", "o5"],
    "KOA": ["o1", "o2", "o4", "o5"],
    "KOB": ["o3"],
}

SERIALS = [with_check_digit(n) for n in ("700101123", "800202234", "900303345", "750404456")]


def customer(i: int, **overrides: str) -> CustomerInput:
    values = {
        "firstname": f"Förnamn{i}",
        "surname": f"Efternamn{i}",
        "serial": SERIALS[i % len(SERIALS)],
        "email": f"kund{i}@example.se",
        "phone": "070-1234567",
    }
    values.update(overrides)
    return CustomerInput(**values)  # type: ignore[arg-type]


async def build_world(ctx: AppContext) -> World:
    w = World()
    await admin.create_ko(ctx, "KOA", "Stadsnät A")
    await admin.create_ko(ctx, "KOB", "Stadsnät B")
    await admin.create_tl(ctx, 1001, "Leverantör Ett AB", "ett@example.se")
    await admin.create_tl(ctx, 1002, "Leverantör Två AB", "tva@example.se")
    for coid, prefix, count in (("KOA", "A", 5), ("KOB", "B", 3)):
        for n in range(1, count + 1):
            await admin.add_access(
                ctx,
                coid=coid,
                access_id=f"{prefix}{n}",
                street_name=f"{prefix}-gatan",
                street_number=str(n),
                postal_code="12345",
                city="Teststad",
            )
    await admin.create_service(
        ctx,
        xsp=1001,
        coid="KOA",
        uid="S1UID",
        name="Tjänst S1",
        price_monthly="299",
        price_once="0",
        service_id=101,
    )
    await admin.create_service(
        ctx,
        xsp=1002,
        coid="KOA",
        uid="S2UID",
        name="Tjänst S2",
        price_monthly="199.50",
        price_once="495",
        service_id=102,
    )
    await admin.create_service(
        ctx,
        xsp=1001,
        coid="KOB",
        uid="S3UID",
        name="Tjänst S3",
        price_monthly="349",
        price_once="0",
        service_id=103,
    )
    for key, kwargs in (
        ("KOA", {"coid": "KOA"}),
        ("KOB", {"coid": "KOB"}),
        ("TL1", {"xsp": 1001}),
        ("TL2", {"xsp": 1002}),
    ):
        org = await admin.find_org(ctx, **kwargs)  # type: ignore[arg-type]
        secret = f"key-{key.lower()}-0123456789"
        cred = await admin.create_api_user(ctx, org, f"{key} integration", api_key=secret)
        w.users[key] = Login(int(cred.ident), secret)
    koa = await admin.find_org(ctx, coid="KOA")
    cred = await admin.create_api_user(
        ctx,
        koa,
        "KOA allow-listed",
        api_key="key-koa-ip-0123456789",
        ip_allowlist=["127.0.0.0/8", "::1"],
    )
    w.users["KOA_IP"] = Login(int(cred.ident), "key-koa-ip-0123456789")
    cred = await admin.create_api_user(
        ctx, koa, "KOA elsewhere", api_key="key-koa-far-0123456789", ip_allowlist=["192.0.2.1"]
    )
    w.users["KOA_FAR"] = Login(int(cred.ident), "key-koa-far-0123456789")

    async def order(coid: str, access: str, services: list[int], i: int) -> list[int]:
        p = await placing.place_order(
            ctx,
            OrderRequest(
                coid=coid,
                access_id=access,
                service_ids=services,
                customer=customer(i),
                delivery=None,
                message=f"Notering {i}",
            ),
        )
        w.customers[f"c{i}"] = p.customer_id
        return [o.id for o in p.orders]

    (w.orders["o1"],) = await order("KOA", "A1", [101], 1)
    (w.orders["o2"],) = await order("KOA", "A2", [102], 2)
    (w.orders["o3"],) = await order("KOB", "B1", [103], 3)
    w.orders["o4"], w.orders["o5"] = await order("KOA", "A3", [101, 102], 4)
    return w
