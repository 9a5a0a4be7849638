"""Placing an order: one customer and one order per service, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from serviceguide.domain.clock import today_local, utcnow
from serviceguide.domain.errors import InvalidInput
from serviceguide.domain.ordering import OrderRequest, ValidationFailed, validate_request
from serviceguide.domain.status import EventType, MessageType, OrderStatus
from serviceguide.services.context import AppContext
from serviceguide.storage import catalogue
from serviceguide.storage import orders as repo


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    id: int
    service_id: int
    xsp: int
    status: OrderStatus


@dataclass(frozen=True, slots=True)
class Placement:
    customer_id: int
    orders: list[PlacedOrder]


async def place_order(ctx: AppContext, req: OrderRequest) -> Placement:
    """Validate, then store the customer and its orders (status ``new``) or nothing at all."""
    customer, message = validate_request(req, today_local())
    async with ctx.db.write(ordered=True) as conn:
        access = await catalogue.access_by_id(conn, req.coid, req.access_id)
        if access is None:
            raise ValidationFailed([InvalidInput("accessId", "No such access in that network")])
        network = await catalogue.network_by_coid(conn, req.coid)
        assert network is not None  # the access was found through it
        chosen = []
        for sid in req.service_ids:
            svc = await catalogue.service_by_id(conn, sid)
            if svc is None or not svc.active or svc.network_id != access.network_id:
                raise ValidationFailed(
                    [InvalidInput("services", f"Service {sid} is not offered on this access")]
                )
            tl = await catalogue.org_by_id(conn, svc.tl_org_id)
            assert tl is not None and tl.xsp is not None
            chosen.append((svc, tl.xsp))
        now = utcnow()
        customer_id = await repo.insert_customer(
            conn,
            access_pk=access.id,
            serial=customer.serial,
            firstname=customer.firstname,
            surname=customer.surname,
            email=customer.email,
            phone=customer.phone,
            address=access.street_address,
            zip=access.postal_code,
            city=access.city,
            premise=customer.premise or access.mdu_apartment_number,
            created_at=now,
        )
        placed = []
        for svc, xsp in chosen:
            order_id = await repo.insert_order(
                conn,
                customer_id=customer_id,
                service_id=svc.id,
                access_pk=access.id,
                tl_org_id=svc.tl_org_id,
                ko_org_id=network.ko_org_id,
                status=OrderStatus.NEW.value,
                delivery=req.delivery,
                message=message,
                created_at=now,
                updated_at=now,
            )
            await repo.append_log(
                conn,
                order_id=order_id,
                at=now,
                type=MessageType.SYSTEM,
                message="Order placed through Tjänsteguiden",
                user_name="Tjänsteguiden",
                org_name="Tjänsteguiden",
                org_id=None,
            )
            await repo.append_event(
                conn,
                order_id=order_id,
                at=now,
                type=EventType.ORDER_CREATED,
                status=OrderStatus.NEW,
                message_type=None,
                tl_org_id=svc.tl_org_id,
                ko_org_id=network.ko_org_id,
            )
            placed.append(PlacedOrder(order_id, svc.id, xsp, OrderStatus.NEW))
    return Placement(customer_id, placed)
