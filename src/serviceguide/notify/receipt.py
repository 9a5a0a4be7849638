"""The customer's receipt: one mail for the orders placed together, in the language the
customer ordered in, with a plain-text and an HTML part (autoescaped).

It lists each order's number, service, provider (with the contact details the provider gave),
prices and requested delivery, and links to the customer's order page. Of the customer it holds
the first name only, and nothing that the organisations write about the order: no personnummer
in any spelling, no notes, no log.

Like the TL's order mail, the message is the same on every attempt (``Message-ID`` from the
outbox row, ``Date`` when the row was written), so a receiver can recognise a duplicate.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from serviceguide.domain.clock import local
from serviceguide.domain.money import money
from serviceguide.storage.receipts import ReceiptFacts

_templates = Environment(
    loader=PackageLoader("serviceguide.notify", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "subject": "Tack för din beställning – ordernummer {ids}",
        "hello": "Hej {name}!",
        "intro": "Tack för din beställning i Tjänsteguiden. Här är en sammanställning. Varje "
        "leverantör har fått sin order och kontaktar dig om leveransen.",
        "order": "Ordernummer",
        "service": "Tjänst",
        "provider": "Leverantör",
        "monthly": "Per månad",
        "once": "Startavgift",
        "delivery": "Önskad leverans",
        "asap": "Så snart som möjligt",
        "status": "Status",
        "direct": "Aktiverad direkt i nätet",
        "sent": "Skickad till leverantören",
        "address": "Adress",
        "follow": "Följ dina ordrar här:",
        "follow.html": "Se status för dina ordrar",
        "keep": "Spara det här meddelandet: länken gäller så länge dina uppgifter sparas.",
        "contact": "Kontakta leverantören direkt om du har frågor om en order.",
        "footer": "Det här meddelandet skickades automatiskt, svara inte på det.",
        "contact.phone": "Telefon",
        "contact.email": "E-post",
        "contact.website": "Webb",
        "contact.hours": "Öppettider",
    },
    "en": {
        "subject": "Thank you for your order – order number {ids}",
        "hello": "Hello {name},",
        "intro": "Thank you for your order in Tjänsteguiden. Here is a summary. Each provider "
        "has received its order and will contact you about delivery.",
        "order": "Order number",
        "service": "Service",
        "provider": "Provider",
        "monthly": "Per month",
        "once": "Start fee",
        "delivery": "Requested delivery",
        "asap": "As soon as possible",
        "status": "Status",
        "direct": "Activated immediately on the network",
        "sent": "Sent to the provider",
        "address": "Address",
        "follow": "Follow your orders here:",
        "follow.html": "See the status of your orders",
        "keep": "Keep this message: the link works for as long as your details are kept.",
        "contact": "Contact the provider directly if you have questions about an order.",
        "footer": "This message was sent automatically; please do not reply.",
        "contact.phone": "Phone",
        "contact.email": "E-mail",
        "contact.website": "Web",
        "contact.hours": "Opening hours",
    },
}


class NoRecipient(Exception):
    """The receipt cannot be sent: no address, or its link is gone."""


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def order_page_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/my-orders/{token}"


def compose(facts: ReceiptFacts, *, mail_from: str, base_url: str) -> EmailMessage:
    """The complete message, ready to send."""
    p = facts.placement
    if not p.email:
        raise NoRecipient("the customer has no e-mail address (erased?)")
    if not facts.token:
        raise NoRecipient("the receipt's link is gone")
    lang = p.lang if p.lang in TEXTS else "sv"
    t = TEXTS[lang]
    context = {
        "t": t,
        "lang": lang,
        "name": _one_line(p.firstname),
        "address": p.address,
        "link": order_page_link(base_url, facts.token),
        "orders": [
            {
                "id": o.id,
                "service": o.service_name,
                "provider": o.provider.name,
                "monthly": money(o.price_monthly, lang),
                "once": money(o.price_once, lang),
                "delivery": o.delivery.isoformat() if o.delivery else t["asap"],
                "status": t["direct"] if o.status == "delivered" else t["sent"],
                "contact": [
                    (t[f"contact.{key}"], value)
                    for key, value in (
                        ("phone", o.provider.phone),
                        ("email", o.provider.email),
                        ("website", o.provider.website),
                        ("hours", o.provider.opening_hours),
                    )
                    if value
                ],
            }
            for o in p.orders
        ],
    }
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = p.email
    msg["Subject"] = t["subject"].format(ids=", ".join(str(o.id) for o in p.orders))
    msg["Date"] = format_datetime(local(facts.created_at))
    msg["Message-ID"] = f"<receipt-{p.customer_id}.outbox-{facts.outbox_id}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    msg.set_content(_templates.get_template("receipt.txt").render(context), cte="quoted-printable")
    msg.add_alternative(
        _templates.get_template("receipt.html").render(context),
        subtype="html",
        cte="quoted-printable",
    )
    return msg
