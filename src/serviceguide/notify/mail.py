"""The order e-mail to the TL's order address (docs/notifications.md, "The order e-mail").

Swedish, with a plain-text and an HTML part rendered from the templates beside this module (the
HTML one autoescaped). It names the order, the service and the prices the order was placed at, the
address and the wished delivery, links
to the order's manual-handling page and carries the machine-readable part: the header
``X-Order-ID`` and one line ``Order-ID: N`` in the text. Of the customer it holds the name only:
no personnummer, e-mail address or phone number.

The message is the same on every attempt: its ``Message-ID`` is derived from the outbox row and
its ``Date`` is when the row was written, so a receiver can recognise a duplicate.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from serviceguide.domain.clock import fmt_minutes, local
from serviceguide.domain.money import money
from serviceguide.storage.outbox import MailFacts

ASAP = "Så snart som möjligt"

_templates = Environment(
    loader=PackageLoader("serviceguide.notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def subject(facts: MailFacts) -> str:
    """e.g. ``Ny beställning 123: Tjänst 100/100, Demogatan 123``."""
    return _one_line(f"Ny beställning {facts.order_id}: {facts.service_name}, {facts.address}")


def order_link(base_url: str, order_id: int) -> str:
    return f"{base_url.rstrip('/')}/staff/orders/{order_id}"


def message_id(facts: MailFacts, mail_from: str) -> str:
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<order-{facts.order_id}.outbox-{facts.outbox_id}@{domain}>"


def _context(facts: MailFacts, base_url: str) -> dict[str, object]:
    return {
        "tl_name": facts.tl_name,
        "order_id": facts.order_id,
        "service_name": facts.service_name,
        "service_uid": facts.service_uid,
        "price_monthly": money(facts.price_monthly, "sv"),
        "price_once": money(facts.price_once, "sv"),
        "address": f"{facts.address}, {facts.zip} {facts.city}",
        "premise": facts.premise,
        "access_id": facts.access_id,
        "coid": facts.coid,
        "delivery": facts.delivery.isoformat() if facts.delivery else ASAP,
        "customer": _one_line(f"{facts.customer_firstname} {facts.customer_surname}"),
        "created": fmt_minutes(facts.order_created_at),
        "link": order_link(base_url, facts.order_id),
    }


class NoRecipient(Exception):
    """The TL has no order e-mail address."""


def compose(facts: MailFacts, *, mail_from: str, base_url: str) -> EmailMessage:
    """The complete message, ready to send."""
    if not facts.to:
        raise NoRecipient(f"{facts.tl_name} has no order e-mail address")
    context = _context(facts, base_url)
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = facts.to
    msg["Subject"] = subject(facts)
    msg["Date"] = format_datetime(local(facts.created_at))
    msg["Message-ID"] = message_id(facts, mail_from)
    msg["X-Order-ID"] = str(facts.order_id)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    text = _templates.get_template("order_mail.txt").render(context)
    html = _templates.get_template("order_mail.html").render(context)
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    return msg
