"""Amounts of money as people read them, in Swedish or English.

One spelling for every place a price is shown: the guide's pages, the staff pages and the mails.
"""

from __future__ import annotations

from decimal import Decimal


def money(amount: Decimal, lang: str) -> str:
    """``1 295,50 kr`` in Swedish, ``SEK 1,295.50`` in English (``lang == "en"``); whole kronor
    without decimals."""
    whole = amount == amount.to_integral_value()
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    if lang == "en":
        return f"SEK {text}"
    # Swedish: narrow no-break space between thousands, comma before the öre.
    text = text.replace(",", "\u202f").replace(".", ",")
    return f"{text}\u00a0kr"
