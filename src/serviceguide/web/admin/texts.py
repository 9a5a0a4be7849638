"""The administration pages' texts in Swedish (the default) and English, and the sentences shown
next to a field for the service layer's errors. Keys not found here fall back to the staff
pages' texts, then the guide's (:mod:`serviceguide.web.staff_i18n`)."""

from __future__ import annotations

import re

from serviceguide.web import i18n, staff_i18n
from serviceguide.web.admin.texts_en import EN
from serviceguide.web.admin.texts_sv import SV

_TEXTS = {"sv": SV, "en": EN}


def translator(lang: str) -> i18n.Translate:
    """Administration texts first (English falling back to Swedish), then the staff pages'."""
    texts = _TEXTS[i18n.pick(lang)]
    staff = staff_i18n.translator(lang)

    def t(key: str, **values: object) -> str:
        text = texts.get(key) or SV.get(key)
        if text is None:
            return staff(key, **values)
        return text.format(**values) if values else text

    return t


# (field, pattern of the service's English message, key of our sentence). First match wins; a
# key may use the pattern's named groups. No match: the service's own message.
_ERRORS: list[tuple[str, re.Pattern[str], str]] = [
    ("username", re.compile(r"is taken"), "err.username.taken"),
    ("username", re.compile(r""), "err.username"),
    ("name", re.compile(r"required"), "err.required"),
    ("name", re.compile(r"at most"), "err.name.long"),
    ("name", re.compile(r"control"), "err.control"),
    ("role", re.compile(r"platform"), "err.role.platform"),
    ("role", re.compile(r"last active admin"), "err.last_admin"),
    ("role", re.compile(r""), "err.role"),
    ("active", re.compile(r"last active admin"), "err.last_admin"),
    ("allow_ip", re.compile(r"at most"), "err.allow_ip.many"),
    ("allow_ip", re.compile(r"(?P<entry>'[^']*'|\S+) (?:is not|would)"), "err.allow_ip"),
    ("price_monthly", re.compile(r"between"), "err.price.range"),
    ("price_monthly", re.compile(r""), "err.price"),
    ("price_once", re.compile(r"between"), "err.price.range"),
    ("price_once", re.compile(r""), "err.price"),
    ("uid", re.compile(r"already"), "err.uid.taken"),
    ("uid", re.compile(r""), "err.uid"),
    ("coid", re.compile(r"not admitted"), "err.coid.not_admitted"),
    ("coid", re.compile(r"already"), "err.coid.taken"),
    ("coid", re.compile(r""), "err.coid"),
    ("description", re.compile(r""), "err.description"),
    ("category", re.compile(r""), "err.category"),
    ("direct_activation", re.compile(r""), "err.direct_activation"),
    ("activation_url", re.compile(r""), "err.activation_url"),
    ("url", re.compile(r""), "err.url"),
    ("events", re.compile(r""), "err.events"),
    ("since_event", re.compile(r""), "err.since_event"),
    ("xsp", re.compile(r"already"), "err.xsp.taken"),
    ("xsp", re.compile(r""), "err.xsp"),
    ("email", re.compile(r""), "err.email"),
    ("order_email", re.compile(r""), "err.email"),
    ("contact_email", re.compile(r""), "err.email"),
    ("phone", re.compile(r""), "err.phone"),
    ("website", re.compile(r""), "err.website"),
    ("opening_hours", re.compile(r""), "err.opening_hours"),
    ("tl", re.compile(r""), "err.tl"),
    ("access_id", re.compile(r""), "err.access_id"),
    ("service_uid", re.compile(r""), "err.service_uid"),
    ("file", re.compile(r"empty"), "err.file.empty"),
    ("file", re.compile(r"encoding|UTF-8|Latin-1"), "err.file.encoding"),
    ("file", re.compile(r""), "err.file"),
    ("format", re.compile(r""), "err.format"),
    ("header", re.compile(r"empty"), "err.file.empty"),
    ("header", re.compile(r""), "err.header"),
]


def error_text(t: i18n.Translate, field: str, message: str) -> str:
    """The sentence shown next to ``field`` for the service's ``message``."""
    for where, pattern, key in _ERRORS:
        if where != field:
            continue
        m = pattern.search(message)
        if m is None:
            continue
        if key in SV:
            return t(key, detail=message, **m.groupdict())
    return message
