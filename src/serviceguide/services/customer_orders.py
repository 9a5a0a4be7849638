"""The customer's own view of a placement, by the token of its order page: the thank-you page
right after ordering, and the order page (``/my-orders/{token}``) linked from the receipt.

The token is 192 random bits, given to the customer only (in the redirect to the thank-you page
and in the receipt); the database keeps its SHA-256. It works for as long as the customer's
personal data is kept: blanking the data (retention or erasure) deletes the page. Looking up
tokens that do not exist is throttled per client address, so that nobody can try many.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from serviceguide.domain.clock import utcnow
from serviceguide.domain.sp import SpAnswer
from serviceguide.services import ratelimit, sp_answers
from serviceguide.services.context import AppContext
from serviceguide.services.secrets import sha256_hex
from serviceguide.storage import receipts as repo
from serviceguide.storage.receipts import PlacementView, StatusStep

#: The window in which unknown tokens are counted per client address (the limit is the
#: setting ``order_page_misses``).
MISS_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class CustomerOrders:
    placement: PlacementView
    history: dict[int, list[StatusStep]]  # per order id, oldest first
    #: The TL's answer to each order pushed to it over ON-API (PENDING: none yet).
    sp: dict[int, SpAnswer] = field(default_factory=dict)


def _plausible(token: str) -> bool:
    return (
        20 <= len(token) <= 64
        and token.isascii()
        and token.replace("-", "a").replace("_", "a").isalnum()
    )


async def by_token(
    ctx: AppContext, token: str, *, client_ip: str | None = None
) -> CustomerOrders | None:
    """The placement whose order page ``token`` opens, with each order's status history; None
    for an unknown (or erased) one. Raises :class:`Throttled` when the client address has
    tried too many unknown tokens lately."""
    # Counted before the look-up, given back when the token was right: concurrent guesses
    # cannot all pass a count none of them has added to yet.
    taken = None
    if client_ip:
        taken = await ratelimit.take(
            ctx.db,
            [f"order-page-ip:{client_ip}"],
            limit=ctx.settings.order_page_misses,
            window=MISS_WINDOW,
            now=utcnow(),
            what="unknown order pages",
            name="order_page",
        )
    found = None
    if _plausible(token):
        async with ctx.db.read() as conn:
            page = await repo.customer_of_page(conn, sha256_hex(token))
            if page is not None:
                placement = await repo.placement(conn, page[0])
                if placement is not None:
                    steps = await repo.status_history(conn, [o.id for o in placement.orders])
                    history: dict[int, list[StatusStep]] = {o.id: [] for o in placement.orders}
                    for step in steps:
                        history[step.order_id].append(step)
                    ids = [o.id for o in placement.orders]
                    answers = await sp_answers.answers_of(conn, ids)
                    found = CustomerOrders(placement, history, answers)
    if found is not None and taken is not None:
        await taken.give_back()
    return found
