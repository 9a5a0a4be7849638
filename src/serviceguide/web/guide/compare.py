"""What customers compare beside the prices, in words: the price's period, the binding time, the
notice period, a campaign and who an offering is for (services read from a TL's ON-API products
state them; a service entered by hand may state none). Periods are ISO 8601 durations (``P1M``,
``P12M``, ``P1Y``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from serviceguide.domain.model import OfferedService
from serviceguide.domain.products import DURATION

Translate = Callable[..., str]
Money = Callable[[Decimal], str]

#: Units of a duration, in the order ISO 8601 writes them, as keys of the guide's texts.
_UNITS = ("year", "month", "week", "day")


def _parts(duration: str) -> list[tuple[int, str]] | None:
    m = DURATION.match(duration or "")
    if m is None or "T" in duration:
        return None
    return [(int(n), unit) for n, unit in zip(m.groups(), _UNITS, strict=True) if n]


def period(t: Translate, duration: str) -> str:
    """``P12M`` → "12 månader" / "12 months"; what it cannot say in words, as written."""
    parts = _parts(duration)
    if not parts:
        return duration
    words = [t(f"period.{unit}.{'one' if n == 1 else 'many'}", n=n) for n, unit in parts]
    return t("period.and").join(words)


def per(t: Translate, duration: str | None) -> str:
    """The price's period: "per månad", "per 3 månader", "per år"."""
    parts = _parts(duration or "P1M")
    if parts and len(parts) == 1 and parts[0][0] == 1:
        return t(f"per.{parts[0][1]}")
    return t("per.period", period=period(t, duration or "P1M"))


def price(t: Translate, money: Money, s: OfferedService) -> str:
    return f"{money(s.price_monthly)} {per(t, s.price_period)}"


def facts(t: Translate, money: Money, s: OfferedService) -> list[str]:
    """The lines a service's card shows under its prices, in this order."""
    out: list[str] = []
    if s.campaign:
        if s.campaign_length and s.base_price is not None:
            out.append(
                t(
                    "compare.campaign.until",
                    price=price(t, money, s),
                    length=period(t, s.campaign_length),
                    base=f"{money(s.base_price)} {per(t, s.price_period)}",
                )
            )
        else:
            out.append(t("compare.campaign"))
    if s.offering_name is not None:  # an offering from the TL's products: these are stated
        if s.agreement_length:
            out.append(t("compare.binding", period=period(t, s.agreement_length)))
        else:
            out.append(t("compare.binding.none"))
    if s.notice_period:
        out.append(t("compare.notice", period=period(t, s.notice_period)))
    if s.consumer_types:
        who = [t(f"consumer.{c}") for c in s.consumer_types]
        joined = who[0] if len(who) == 1 else ", ".join(who[:-1]) + t("period.and") + who[-1]
        out.append(t("compare.for", who=joined))
    return out
