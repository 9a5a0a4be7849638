"""Placing an order: one customer and one order per service, in one transaction.

Direct activation happens before the orders are stored, so an order the KO activated is
stored as ``delivered`` from the start and a TL never sees it as ``new``. If the KO refuses or
cannot be reached, the order is stored as ``new`` with a log entry saying why: a KO that is down
never costs the customer the order. (Should the database fail after the KO has activated, the
customer gets an error and may retry; the KO's ``service_order`` sees the same socket and
service again.) A direct-activation service ordered for a later day is not activated: it goes to
the provider as ``new``, with a log entry saying the provider activates it on that day, so that
nothing shows as delivered before the customer wanted it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from serviceguide.domain.clock import today_local, utcnow
from serviceguide.domain.errors import Conflict, DuplicateOrder, InvalidInput
from serviceguide.domain.listing import search_text
from serviceguide.domain.logcodes import LogCode, LogText
from serviceguide.domain.ordering import (
    CleanCustomer,
    OrderRequest,
    ValidationFailed,
    validate_request,
)
from serviceguide.domain.outbox import OutboxKind
from serviceguide.domain.sp import Delivery, SpAnswer
from serviceguide.domain.status import ALLOWED_TRANSITIONS, EventType, MessageType, OrderStatus
from serviceguide.observability import metrics, request_id
from serviceguide.services import changes, ratelimit, sp_push, sp_settings
from serviceguide.services.activation import ActivationResult, activate
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue, idempotency, receipts
from serviceguide.storage import orders as repo
from serviceguide.storage import outbox as outbox_repo
from serviceguide.storage import sp_push as push_repo
from serviceguide.storage.catalogue import AccessRecord, NetworkRecord, ServiceRecord
from serviceguide.storage.receipts import RecentOrder

GUIDE = "Tjänsteguiden"
#: How far back an open order of the same person, service and access counts as a duplicate.
DUPLICATE_WINDOW = timedelta(hours=24)
#: Statuses an order can still leave: an order in one of them is open.
OPEN_STATUSES = [s.value for s, onward in ALLOWED_TRANSITIONS.items() if onward]
RATE_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    id: int
    service_id: int
    xsp: int
    status: OrderStatus
    #: The TL's answer to the ON-API push of the order (None: the order is not pushed).
    sp: SpAnswer | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    customer_id: int
    orders: list[PlacedOrder]
    #: The customer's order page token (``/my-orders/{token}``); None for a repeated answer,
    #: which only the first one knew (only its SHA-256 is stored).
    order_page_token: str | None = None

    def to_public(self) -> dict[str, object]:
        """The documented answer (docs/guide-api.md), also what an Idempotency-Key replays."""
        return {
            "customer": self.customer_id,
            "orders": [
                {
                    "id": o.id,
                    "service": o.service_id,
                    "xsp": o.xsp,
                    "status": o.status.value,
                    **({"sp": o.sp.to_public()} if o.sp else {}),
                }
                for o in self.orders
            ],
        }

    @classmethod
    def from_public(cls, doc: dict[str, object]) -> Placement:
        orders = doc["orders"]
        assert isinstance(orders, list)
        return cls(
            int(doc["customer"]),  # type: ignore[call-overload]
            [
                PlacedOrder(o["id"], o["service"], o["xsp"], OrderStatus(o["status"]))
                for o in orders
            ],
        )


@dataclass(frozen=True, slots=True)
class _Plan:
    access: AccessRecord
    network: NetworkRecord
    services: list[tuple[ServiceRecord, int]]  # with the TL's xsp
    deliveries: dict[int, Delivery]  # by the TL's organisation id

    def mails(self, svc: ServiceRecord) -> bool:
        """Whether the order e-mail goes when the order is placed."""
        return self.deliveries.get(svc.tl_org_id, Delivery.MAIL).mails_at_once

    def push(self, svc: ServiceRecord, status: OrderStatus) -> OutboxKind | None:
        """The ON-API push of an order in ``status``: a notice for a direct activation."""
        if not self.deliveries.get(svc.tl_org_id, Delivery.MAIL).pushes:
            return None
        return OutboxKind.SP_NOTICE if status == OrderStatus.DELIVERED else OutboxKind.SP_ORDER


LANGS = ("sv", "en")


def new_order_page_token() -> str:
    """A token for a customer's order page: 192 random bits."""
    return secrets.token_urlsafe(24)


def fingerprint(req: OrderRequest) -> str:
    """What makes two requests "the same" for an Idempotency-Key: their parsed content."""
    canonical = json.dumps(asdict(req), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _plan(ctx: AppContext, req: OrderRequest) -> _Plan:
    async with ctx.db.read() as conn:
        access = await catalogue.access_by_id(conn, req.coid, req.access_id)
        network = await catalogue.network_by_coid(conn, req.coid)
        if access is None or network is None:
            field = "coid" if network is None else "accessId"
            raise ValidationFailed([InvalidInput(field, "No such access in that network")])
        found = await catalogue.services_with_xsp(conn, req.service_ids)
        tls = {svc.tl_org_id for svc, _xsp in found.values()}
        deliveries = await sp_settings.deliveries(conn, tls)
    chosen = []
    bad = []
    for sid in req.service_ids:
        svc_xsp = found.get(sid)
        if svc_xsp is None or not svc_xsp[0].offered or svc_xsp[0].network_id != access.network_id:
            bad.append(sid)
            continue
        chosen.append(svc_xsp)
    if bad:
        ids = ", ".join(str(b) for b in bad)
        raise ValidationFailed([InvalidInput("services", f"Not offered on this access: {ids}")])
    return _Plan(access, network, chosen, deliveries)


async def _duplicates(ctx: AppContext, plan: _Plan, serial: str) -> list[RecentOrder]:
    async with ctx.db.read() as conn:
        return await receipts.open_orders_of(
            conn,
            serial=serial,
            access_pk=plan.access.id,
            service_ids=[svc.id for svc, _xsp in plan.services],
            since=utcnow() - DUPLICATE_WINDOW,
            open_statuses=OPEN_STATUSES,
        )


async def open_duplicates(ctx: AppContext, req: OrderRequest) -> list[RecentOrder]:
    """The person's open orders for any of ``req``'s services at its access, placed in the last
    24 hours: what placing ``req`` would order a second time. The check is advisory (two
    requests at the same moment both pass it); it is there for the customer who goes back and
    confirms again."""
    customer, _message = validate_request(req, today_local())
    return await _duplicates(ctx, await _plan(ctx, req), customer.serial)


def _search_text(c: CleanCustomer, access: AccessRecord) -> str:
    return search_text(
        c.firstname, c.surname, access.street_address, access.postal_code, access.city
    )


def _offer(svc: ServiceRecord) -> repo.Offer:
    """What the order keeps of its service: the uid, name and prices the customer was shown,
    the price's period, binding time and notice period, and the TL's product and offering."""
    product_id, offering_id = svc.onapi_ids
    return repo.Offer(
        svc.uid,
        svc.full_name,
        svc.price_monthly,
        svc.price_once,
        product_id=product_id,
        offering_id=offering_id,
        price_period=svc.price_period,
        agreement_length=svc.agreement_length,
        notice_period=svc.notice_period,
    )


def _notes(result: ActivationResult | None) -> list[LogText]:
    """The log entries a new order starts with."""
    return [LogText(LogCode.PLACED)] + ([result.log] if result else [])


def scoped_key(key: str, client: str | None) -> str:
    """An Idempotency-Key as stored: the client's own. Keys are scoped to the client (its
    address, for the guide's anonymous callers), so one client can neither claim another's key
    nor be answered with another's orders; the SHA-256 keeps every stored key one length."""
    digest = hashlib.sha256(f"{client or ''}\n{key}".encode()).hexdigest()
    return f"sha256:{digest}"


async def _replay(ctx: AppContext, key: str, print_: str) -> Placement | None:
    async with ctx.db.read() as conn:
        found = await idempotency.get(conn, key)
    if found is None:
        return None
    stored_print, body = found
    if stored_print != print_:
        raise Conflict("This Idempotency-Key was used for a different order")
    return Placement.from_public(json.loads(body))


async def place_order(
    ctx: AppContext,
    req: OrderRequest,
    *,
    client_ip: str | None = None,
    idempotency_key: str | None = None,
    notify: bool = True,
    order_page_token: str | None = None,
    lang: str = "sv",
    confirm_duplicate: bool = True,
) -> Placement:
    """Validate, activate directly where the network does, then store the customer and its
    orders or nothing at all. With ``idempotency_key``, a repeat returns the first answer.

    Each order's e-mail to its TL, and the customer's receipt (in ``lang``, with the link to
    the order page of ``order_page_token``, a new one if None), are enqueued in the same
    transaction (``notify=False``: none, for the demo data); the outbox relay sends them once
    the orders are committed.

    With ``confirm_duplicate=False``, :class:`DuplicateOrder` is raised instead when the same
    person (personnummer) has open orders for any of the services at the access, placed in
    the last 24 hours (see :func:`open_duplicates`)."""
    customer, message = validate_request(req, today_local())
    if lang not in LANGS:
        raise ValueError(f"no such language: {lang}")
    token = order_page_token or new_order_page_token()
    print_ = fingerprint(req)
    if idempotency_key:
        idempotency_key = scoped_key(idempotency_key, client_ip)
        if first := await _replay(ctx, idempotency_key, print_):
            return await sp_push.with_answers(ctx, first)
    plan = await _plan(ctx, req)
    limit = ctx.settings.guide_rate
    taken = None
    if client_ip and limit:
        # Counted before anything is done, given back if nothing is placed: concurrent
        # requests from one address cannot all pass a count none of them has added to yet.
        taken = await ratelimit.take(
            ctx.db,
            [f"guide-ip:{client_ip}"],
            limit=limit,
            window=RATE_WINDOW,
            now=utcnow(),
            what="orders from this address",
            name="guide_orders",
            cost=len(plan.services),
        )
    # After the count, and not given back: a refused duplicate costs what an order costs, so
    # its answer (which names the person's open orders) cannot be asked for faster than orders.
    if not confirm_duplicate and (found := await _duplicates(ctx, plan, customer.serial)):
        # A repeat of a request that was placed meanwhile is its first answer, not a duplicate.
        if idempotency_key and (first := await _replay(ctx, idempotency_key, print_)):
            if taken is not None:
                await taken.give_back()
            return await sp_push.with_answers(ctx, first)
        raise DuplicateOrder([o.id for o in found])
    # The pushes of new orders are written claimed by this process, for its first attempt.
    pushing = notify and any(plan.push(svc, OrderStatus.NEW) for svc, _xsp in plan.services)
    claim = sp_push.new_claim() if pushing else None
    try:
        placement, replayed = await _activate_and_store(
            ctx,
            req,
            plan,
            customer,
            message,
            idempotency_key,
            print_,
            notify,
            _Page(token, hashlib.sha256(token.encode()).hexdigest(), lang),
            claim,
        )
    except BaseException:
        if taken is not None:
            await taken.give_back()
        raise
    if replayed and taken is not None:
        await taken.give_back()  # the first request placed these orders, and counted them
    if not replayed:
        metrics.orders_placed(len(placement.orders))
    if pushing:
        placement = await sp_push.with_answers(ctx, placement, claim=None if replayed else claim)
    return placement


@dataclass(frozen=True, slots=True)
class _Page:
    token: str
    sha256: str
    lang: str


async def _activate_and_store(
    ctx: AppContext,
    req: OrderRequest,
    plan: _Plan,
    customer: CleanCustomer,
    message: str,
    idempotency_key: str | None,
    print_: str,
    notify: bool,
    page: _Page,
    claim: str | None = None,
) -> tuple[Placement, bool]:
    """The placement, and whether it is a concurrent request's (same Idempotency-Key)."""
    activations: dict[int, ActivationResult] = {}
    today = today_local()
    for svc, _xsp in plan.services:
        if not (svc.direct_activation and plan.network.activation_url):
            continue
        if req.delivery is not None and req.delivery > today:
            # A later date: the provider activates it then; nothing is delivered today.
            activations[svc.id] = ActivationResult(
                False, LogText(LogCode.ACTIVATION_LATER, {"date": req.delivery.isoformat()})
            )
        else:
            activations[svc.id] = await activate(
                plan.network.activation_url,
                plan.network.coid,
                svc.uid,
                plan.access.access_id,
                today,
            )

    try:
        placement = await _store(
            ctx,
            req,
            plan,
            customer,
            message,
            activations,
            idempotency_key,
            print_,
            notify,
            page,
            claim,
        )
    except IntegrityError:
        # Most likely the same Idempotency-Key committed by a concurrent request.
        if idempotency_key and (replayed := await _replay(ctx, idempotency_key, print_)):
            return replayed, True
        raise
    return placement, False


async def _store(
    ctx: AppContext,
    req: OrderRequest,
    plan: _Plan,
    customer: CleanCustomer,
    message: str,
    activations: dict[int, ActivationResult],
    idempotency_key: str | None,
    print_: str,
    notify: bool,
    page: _Page,
    claim: str | None = None,
) -> Placement:
    c = customer
    access, network = plan.access, plan.network
    statuses = [
        OrderStatus.DELIVERED if (r := activations.get(svc.id)) and r.activated else OrderStatus.NEW
        for svc, _xsp in plan.services
    ]
    if ctx.db.is_postgres:
        async with ctx.db.single_statement() as conn:
            answer = await repo.place_in_one_statement(
                conn,
                customer={
                    "access_pk": access.id,
                    "serial": c.serial,
                    "firstname": c.firstname,
                    "surname": c.surname,
                    "email": c.email,
                    "phone": c.phone,
                    "address": access.street_address,
                    "zip": access.postal_code,
                    "city": access.city,
                    "premise": c.premise or access.mdu_apartment_number,
                    "search_text": _search_text(c, access),
                },
                services=[
                    repo.PlacedService(
                        svc.id,
                        svc.tl_org_id,
                        xsp,
                        status,
                        _offer(svc),
                        mail=plan.mails(svc),
                        push=(kind := plan.push(svc, status)) and kind.value,
                    )
                    for (svc, xsp), status in zip(plan.services, statuses, strict=True)
                ],
                notes=[
                    (svc.id, note)
                    for svc, _xsp in plan.services
                    for note in _notes(activations.get(svc.id))
                ],
                ko_org_id=network.ko_org_id,
                delivery=req.delivery,
                message=message,
                by=GUIDE,
                now=utcnow(),
                notify=notify,
                idempotency_key=idempotency_key,
                request_sha256=print_,
                request_id=request_id.current(),
                page_sha256=page.sha256,
                lang=page.lang,
                receipt=page.token if notify else None,
                push_token=claim,
                push_until=sp_push.claim_until(ctx, utcnow()) if claim else None,
            )
        answered = Placement.from_public(json.loads(answer))
        return Placement(answered.customer_id, answered.orders, page.token)
    async with ctx.db.write() as conn:
        # Read before taking the stream lock, so that it is held for fewer round trips.
        orgs = {network.ko_org_id} | {svc.tl_org_id for svc, _xsp in plan.services}
        endpoints = await outbox_repo.webhook_endpoints_of(conn, orgs)
        await ctx.db.hold_streams(conn)
        now = utcnow()
        customer_id = await repo.insert_customer(
            conn,
            access_pk=access.id,
            serial=c.serial,
            firstname=c.firstname,
            surname=c.surname,
            email=c.email,
            phone=c.phone,
            address=access.street_address,
            zip=access.postal_code,
            city=access.city,
            premise=c.premise or access.mdu_apartment_number,
            search_text=_search_text(c, access),
            created_at=now,
        )
        # One statement per table, whatever the number of services: the stream lock is held
        # for as few round trips as possible.
        order_ids = await repo.insert_orders(
            conn,
            [
                {
                    "customer_id": customer_id,
                    "service_id": svc.id,
                    "access_pk": access.id,
                    "tl_org_id": svc.tl_org_id,
                    "ko_org_id": network.ko_org_id,
                    "status": status.value,
                    "delivery": req.delivery,
                    "message": message,
                    "created_at": now,
                    "updated_at": now,
                    **_offer(svc).as_columns(),
                }
                for (svc, _xsp), status in zip(plan.services, statuses, strict=True)
            ],
        )
        await repo.append_logs(
            conn,
            [
                {
                    "order_id": order_id,
                    "created_at": now,
                    "type": MessageType.SYSTEM.value,
                    "message": note.text,
                    "code": note.code.value,
                    "params": note.params_json(),
                    "user_name": GUIDE,
                    "org_name": GUIDE,
                    "org_id": None,
                }
                for order_id, (svc, _xsp) in zip(order_ids, plan.services, strict=True)
                for note in _notes(activations.get(svc.id))
            ],
        )
        await changes.record_events(
            conn,
            [
                changes.Change(
                    order_id,
                    EventType.ORDER_CREATED,
                    status,
                    None,
                    svc.tl_org_id,
                    network.ko_org_id,
                )
                for order_id, (svc, _xsp), status in zip(
                    order_ids, plan.services, statuses, strict=True
                )
            ],
            now,
            endpoints,
        )
        placed = [
            PlacedOrder(order_id, svc.id, xsp, status)
            for order_id, (svc, xsp), status in zip(order_ids, plan.services, statuses, strict=True)
        ]
        mails = [
            (order_id, svc.tl_org_id)
            for order_id, (svc, _xsp) in zip(order_ids, plan.services, strict=True)
            if plan.mails(svc)
        ]
        pushes = [
            (order_id, svc.tl_org_id, kind)
            for order_id, (svc, _xsp), status in zip(
                order_ids, plan.services, statuses, strict=True
            )
            if (kind := plan.push(svc, status))
        ]
        await receipts.add_page(
            conn, customer_id=customer_id, token_sha256=page.sha256, lang=page.lang, at=now
        )
        if notify:
            await changes.enqueue_order_mails(conn, mails, now)
            await push_repo.enqueue_pushes(
                conn,
                pushes,
                now,
                request_id.current(),
                token=claim,
                until=sp_push.claim_until(ctx, now) if claim else None,
            )
            await receipts.enqueue_receipt(
                conn,
                order_id=order_ids[0],
                payload=page.token,
                at=now,
                request_id=request_id.current(),
            )
        placement = Placement(customer_id, placed, page.token)
        if idempotency_key:
            await idempotency.put(
                conn,
                key=idempotency_key,
                request_sha256=print_,
                status_code=201,
                response=json.dumps(placement.to_public()),  # without the token
                now=now,
            )
    return placement
