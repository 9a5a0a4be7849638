"""The guide's texts in Swedish (the default) and English: one dict per language, no build step.

Templates call ``t("key", name=value)``; a key missing from English falls back to Swedish, and
a key missing everywhere shows itself (so a typo is visible on the page, not a crash).
Field errors come from the domain in English; :func:`error_text` turns them into a sentence in
the page's language by the field they concern and the rule they break.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from serviceguide.domain.money import money as domain_money

LANGS = ("sv", "en")
DEFAULT = "sv"

Translate = Callable[..., str]

SV: dict[str, str] = {
    "site.name": "Tjänsteguiden",
    "skip": "Hoppa till innehållet",
    "lang.switch": "In English",
    "lang.other": "en",
    "footer": "Tjänsteguiden förmedlar din beställning till den leverantör du väljer.",
    "steps.label": "Steg i beställningen",
    "step.address": "Adress",
    "step.services": "Tjänster",
    "step.details": "Dina uppgifter",
    "step.review": "Granska",
    "step.done": "Klart",
    "error.prefix": "Fel",
    "error.summary": "Det finns {n} fel som behöver rättas",
    "error.summary.one": "Det finns ett fel som behöver rättas",
    # Address search
    "search.title": "Hitta din adress",
    "search.intro": "Skriv gatuadressen där du vill ha tjänsten. Vi visar vad som går att "
    "beställa på just din anslutning.",
    "search.label": "Gatuadress",
    "search.hint": "Till exempel Demogatan 123",
    "search.button": "Sök adress",
    "search.results": "Adresser som matchar ”{q}”",
    "search.results.count": "{n} adresser hittades. Välj din adress.",
    "search.results.count.one": "1 adress hittades. Välj din adress.",
    "search.none": "Vi hittade ingen adress som matchar ”{q}”. Kontrollera stavningen eller "
    "skriv bara gatunamnet.",
    "search.empty": "Skriv din gatuadress",
    "search.too_long": "Skriv högst {n} tecken",
    "search.premise": "lägenhet {p}",
    "search.suggestions": "Adressförslag",
    "search.suggestions.count": "{n} förslag. Använd pil upp och pil ned, välj med Enter.",
    "search.suggestions.none": "Inga förslag.",
    # Services
    "services.title": "Tjänster på {address}",
    "services.intro": "Välj en eller flera tjänster. Du kan beställa från flera leverantörer "
    "på en gång; varje leverantör får sin egen order.",
    "services.none": "Det finns ännu inga tjänster att beställa på den här adressen.",
    "services.other_address": "Sök en annan adress",
    "services.monthly": "{price} per månad",
    "services.once": "Startavgift {price}",
    "services.no_fee": "Ingen startavgift",
    "services.direct": "Aktiveras direkt",
    "services.provider": "Leverantör",
    "services.continue": "Fortsätt",
    "services.change": "Ändra tjänster",
    "access.label": "Anslutning {access} i {coid}",
    "services.title.access": "Tjänster på anslutning {access} i {coid}",
    "period.year.one": "{n} år",
    "period.year.many": "{n} år",
    "period.month.one": "{n} månad",
    "period.month.many": "{n} månader",
    "period.week.one": "{n} vecka",
    "period.week.many": "{n} veckor",
    "period.day.one": "{n} dag",
    "period.day.many": "{n} dagar",
    "period.and": " och ",
    "per.year": "per år",
    "per.month": "per månad",
    "per.week": "per vecka",
    "per.day": "per dag",
    "per.period": "per {period}",
    "compare.campaign": "Kampanjerbjudande",
    "compare.campaign.until": "Kampanj: {price} i {length}, sedan {base}",
    "compare.binding": "Bindningstid {period}",
    "compare.binding.none": "Ingen bindningstid",
    "compare.notice": "Uppsägningstid {period}",
    "compare.for": "För {who}",
    "compare.terms": "Villkor",
    "compare.privacy": "Integritetspolicy",
    "compare.links": "Villkor och integritetspolicy för {name}",
    "consumer.residential": "privatpersoner",
    "consumer.business": "företag",
    "consumer.student": "studenter",
    "consumer.senior": "seniorer",
    "consumer.propertyOwner": "fastighetsägare",
    "access.unknown.title": "Adressen finns inte",
    "access.unknown.text": "Vi hittar ingen anslutning med den här adressen. Sök fram din "
    "adress igen.",
    # Customer details
    "details.title": "Dina uppgifter",
    "details.intro": "Uppgifterna skickas till leverantören av de tjänster du har valt.",
    "details.chosen": "Valda tjänster",
    "details.person": "Om dig",
    "details.delivery": "När vill du att tjänsterna ska levereras?",
    "details.continue": "Fortsätt till granskning",
    "field.firstname": "Förnamn",
    "field.surname": "Efternamn",
    "field.serial": "Personnummer",
    "field.serial.hint": "12 siffror, till exempel 19700101-1233",
    "field.email": "E-postadress",
    "field.phone": "Telefonnummer",
    "field.phone.hint": "Till exempel 070-123 45 67",
    "field.premise": "Lägenhetsnummer (frivilligt)",
    "field.premise.hint": "Fyra siffror, finns på dörren eller i hyresavtalet. Lämna tomt om du "
    "bor i villa.",
    "field.delivery.asap": "Så snart som möjligt",
    "field.delivery.date": "Önskat datum",
    "field.delivery_date": "Datum",
    "field.delivery_date.hint": "ÅÅÅÅ-MM-DD, tidigast i dag och senast om ett år",
    "field.message": "Meddelande till leverantören (frivilligt)",
    "field.message.hint": "Högst {n} tecken",
    "field.services": "Tjänster",
    "field.delivery": "Leveransdatum",
    "field.address": "Adress",
    # Review
    "review.title": "Granska din beställning",
    "review.intro": "Kontrollera att allt stämmer. Beställningen skickas när du bekräftar.",
    "review.services": "Tjänster",
    "review.service": "Tjänst",
    "review.monthly": "Per månad",
    "review.once": "Startavgift",
    "review.total": "Totalt",
    "review.you": "Dina uppgifter",
    "review.delivery": "Leverans",
    "review.message": "Meddelande",
    "review.no_message": "Inget meddelande",
    "review.confirm": "Bekräfta beställning",
    "review.edit": "Ändra uppgifter",
    "review.terms": "När du bekräftar skickas en order per tjänst till respektive leverantör.",
    # Thank you
    "thanks.title": "Tack för din beställning",
    "thanks.title.named": "Tack för din beställning, {name}!",
    "thanks.intro": "Vi har tagit emot din beställning. Spara ordernumren nedan om du behöver "
    "kontakta leverantören.",
    "thanks.orders": "Dina ordrar",
    "thanks.order": "Ordernummer {id}",
    "thanks.direct.badge": "Aktiverad direkt",
    "thanks.status.direct": "Tjänsten är redo att användas.",
    "thanks.status.new": "Skickad till leverantören, som kontaktar dig om leveransen.",
    "thanks.status.other": "Status: {status}",
    "thanks.sp.confirmed": "{provider} har bekräftat beställningen och skriver:",
    "thanks.sp.rejected": "{provider} kan inte ta emot beställningen och skriver:",
    "thanks.sp.pending": "{provider} har inte svarat ännu. Leverantören bekräftar beställningen "
    "med e-post.",
    "thanks.direct.note": "{n} av {total} tjänster aktiverades direkt i nätet.",
    "review.direct.later": "Aktiveras på önskat datum",
    "review.table": "Tjänster och priser",
    "duplicate.title": "Du har redan beställt det här",
    "duplicate.text": "Det finns redan öppna ordrar från dig för samma tjänst på den här "
    "adressen, lagda det senaste dygnet. Om du bekräftar igen blir det en order till.",
    "duplicate.order": "Order {id}: {service}, lagd {at}",
    "duplicate.confirm": "Ja, jag vill beställa en gång till",
    "duplicate.unconfirmed": "Kryssa i rutan om du verkligen vill beställa en gång till. "
    "Inget har beställts.",
    "services.expired": "Din beställning hann bli för gammal och har inte skickats. Välj "
    "tjänsterna igen.",
    "thanks.status.new.date": "Skickad till leverantören, som levererar {date} och kontaktar "
    "dig om leveransen.",
    "thanks.direct.note.one": "1 av {total} tjänster aktiverades direkt i nätet.",
    "thanks.follow.title": "Följ din beställning",
    "thanks.follow": "Vi har skickat ett kvitto till din e-postadress. Via länken i det, eller "
    "den här, ser du hur det går med dina ordrar.",
    "thanks.follow.link": "Se status för dina ordrar",
    "myorders.title": "Dina ordrar",
    "myorders.intro": "Här ser du hur det går med ordrarna du lade i Tjänsteguiden.",
    "myorders.now": "Status:",
    "myorders.prices": "{monthly} per månad, startavgift {once}",
    "myorders.history": "Historik",
    "myorders.contact": "Har du frågor om en order? Kontakta leverantören och uppge ordernumret.",
    "orders.throttled.title": "För många försök",
    "orders.throttled.text": "Det har gjorts för många försök med ogiltiga länkar från din "
    "uppkoppling. Vänta en stund och försök igen.",
    "contact.title": "Kontakta {name}",
    "contact.phone": "Telefon",
    "contact.email": "E-post",
    "contact.website": "Webb",
    "contact.hours": "Öppettider",
    "cstatus.new": "Skickad till leverantören",
    "cstatus.received": "Mottagen av leverantören",
    "cstatus.active": "Leverantören arbetar med din order",
    "cstatus.waiting": "Väntar på att något blir klart",
    "cstatus.cancelled": "Avbruten",
    "cstatus.delivered": "Levererad",
    "thanks.more": "Beställ fler tjänster",
    "thanks.invalid.title": "Sidan kan inte visas",
    "thanks.invalid.text": "Länken till den här sidan är ogiltig, eller så har dina uppgifter "
    "tagits bort. Dina ordernummer finns även hos leverantören.",
    # Failures
    "forbidden.title": "Formuläret kunde inte skickas",
    "forbidden.text": "Sidan var för gammal eller skickades från en annan webbplats. Inget "
    "har sparats. Börja om från början.",
    "throttled": "Det har gjorts för många beställningar från din uppkoppling på kort tid. "
    "Försök igen om {n} sekunder. Inget har sparats.",
    "conflict": "Beställningen ändrades efter att den skickats. Granska uppgifterna och "
    "bekräfta igen.",
    "start_over": "Börja om",
    "error.404.title": "Sidan finns inte",
    "error.404.text": "Det finns ingen sida på den här adressen. Kontrollera länken, eller "
    "börja om från startsidan.",
    "error.500.title": "Något gick fel",
    "error.500.text": "Ett fel uppstod hos oss, och det du gjorde blev kanske inte klart. "
    "Försök igen om en liten stund.",
    "error.503.title": "Tjänsten är tillfälligt otillgänglig",
    "error.503.text": "Försök igen om en liten stund. Det du skickat har inte gått förlorat om "
    "du fått en bekräftelse; annars, skicka det igen.",
    "error.code": "Felkod {status}",
    "error.home": "Till startsidan",
    # Field errors
    "err.required.firstname": "Fyll i ditt förnamn",
    "err.required.surname": "Fyll i ditt efternamn",
    "err.required.serial": "Fyll i ditt personnummer",
    "err.required.email": "Fyll i din e-postadress",
    "err.required.phone": "Fyll i ditt telefonnummer",
    "err.too_long": "Skriv högst {n} tecken",
    "err.control": "Får inte innehålla kontrolltecken",
    "err.serial.format": "Skriv personnumret med 10 eller 12 siffror, till exempel 19700101-1233",
    "err.serial.date": "Personnumret innehåller inget giltigt födelsedatum",
    "err.serial.future": "Personnumret har ett födelsedatum i framtiden",
    "err.serial.check": "Personnumret stämmer inte, kontrollera den sista siffran",
    "err.email": "Skriv en giltig e-postadress, till exempel namn@exempel.se",
    "err.phone": "Skriv ett giltigt telefonnummer med 7–20 siffror, till exempel 070-123 45 67",
    "err.premise": "Skriv högst 20 bokstäver, siffror, mellanslag eller bindestreck",
    "err.delivery.range": "Välj ett datum från i dag och högst ett år framåt",
    "err.delivery.format": "Skriv datumet som ÅÅÅÅ-MM-DD, till exempel {example}",
    "err.delivery.missing": "Skriv vilket datum du vill ha leveransen",
    "err.services.none": "Välj minst en tjänst",
    "err.services.twice": "Samma tjänst är vald två gånger",
    "err.services.not_offered": "En vald tjänst finns inte på den här adressen. Välj bland "
    "tjänsterna som visas.",
    "err.access": "Adressen finns inte. Sök fram din adress igen.",
    "err.generic": "Kontrollera uppgiften",
    # Statuses
    "status.new": "ny",
    "status.received": "mottagen",
    "status.active": "under behandling",
    "status.waiting": "väntar",
    "status.cancelled": "avbruten",
    "status.delivered": "levererad",
}

EN: dict[str, str] = {
    "site.name": "Tjänsteguiden – the service guide",
    "skip": "Skip to main content",
    "lang.switch": "På svenska",
    "lang.other": "sv",
    "footer": "The service guide passes your order on to the provider you choose.",
    "steps.label": "Order steps",
    "step.address": "Address",
    "step.services": "Services",
    "step.details": "Your details",
    "step.review": "Review",
    "step.done": "Done",
    "error.prefix": "Error",
    "error.summary": "There are {n} problems to fix",
    "error.summary.one": "There is a problem to fix",
    "search.title": "Find your address",
    "search.intro": "Enter the street address where you want the service. We show what you "
    "can order on your connection.",
    "search.label": "Street address",
    "search.hint": "For example Demogatan 123",
    "search.button": "Search address",
    "search.results": "Addresses matching “{q}”",
    "search.results.count": "{n} addresses found. Choose yours.",
    "search.results.count.one": "1 address found. Choose it to continue.",
    "search.none": "We found no address matching “{q}”. Check the spelling or enter only "
    "the street name.",
    "search.empty": "Enter your street address",
    "search.too_long": "Enter at most {n} characters",
    "search.premise": "apartment {p}",
    "search.suggestions": "Address suggestions",
    "search.suggestions.count": "{n} suggestions. Use the up and down arrows, Enter to choose.",
    "search.suggestions.none": "No suggestions.",
    "services.title": "Services at {address}",
    "services.intro": "Choose one or more services. You can order from several providers at "
    "once; each provider gets its own order.",
    "services.none": "There are no services to order at this address yet.",
    "services.other_address": "Search for another address",
    "services.monthly": "{price} per month",
    "services.once": "Start fee {price}",
    "services.no_fee": "No start fee",
    "services.direct": "Activated immediately",
    "services.provider": "Provider",
    "services.continue": "Continue",
    "services.change": "Change services",
    "access.label": "Connection {access} in {coid}",
    "services.title.access": "Services at connection {access} in {coid}",
    "period.year.one": "{n} year",
    "period.year.many": "{n} years",
    "period.month.one": "{n} month",
    "period.month.many": "{n} months",
    "period.week.one": "{n} week",
    "period.week.many": "{n} weeks",
    "period.day.one": "{n} day",
    "period.day.many": "{n} days",
    "period.and": " and ",
    "per.year": "per year",
    "per.month": "per month",
    "per.week": "per week",
    "per.day": "per day",
    "per.period": "per {period}",
    "compare.campaign": "Special offer",
    "compare.campaign.until": "Special offer: {price} for {length}, then {base}",
    "compare.binding": "Minimum term {period}",
    "compare.binding.none": "No minimum term",
    "compare.notice": "Notice period {period}",
    "compare.for": "For {who}",
    "compare.terms": "Terms",
    "compare.privacy": "Privacy policy",
    "compare.links": "Terms and privacy policy for {name}",
    "consumer.residential": "households",
    "consumer.business": "businesses",
    "consumer.student": "students",
    "consumer.senior": "seniors",
    "consumer.propertyOwner": "property owners",
    "access.unknown.title": "Address not found",
    "access.unknown.text": "We cannot find a connection at this address. Please search for "
    "your address again.",
    "details.title": "Your details",
    "details.intro": "Your details are sent to the provider of the services you chose.",
    "details.chosen": "Chosen services",
    "details.person": "About you",
    "details.delivery": "When would you like the services delivered?",
    "details.continue": "Continue to review",
    "field.firstname": "First name",
    "field.surname": "Surname",
    "field.serial": "Swedish personal identity number (personnummer)",
    "field.serial.hint": "12 digits, for example 19700101-1233",
    "field.email": "E-mail address",
    "field.phone": "Phone number",
    "field.phone.hint": "For example 070-123 45 67",
    "field.premise": "Apartment number (optional)",
    "field.premise.hint": "Four digits, on your door or in your lease. Leave empty for a house.",
    "field.delivery.asap": "As soon as possible",
    "field.delivery.date": "On a date of my choice",
    "field.delivery_date": "Date",
    "field.delivery_date.hint": "YYYY-MM-DD, from today up to one year ahead",
    "field.message": "Message to the provider (optional)",
    "field.message.hint": "At most {n} characters",
    "field.services": "Services",
    "field.delivery": "Delivery date",
    "field.address": "Address",
    "review.title": "Review your order",
    "review.intro": "Check that everything is right. The order is sent when you confirm.",
    "review.services": "Services",
    "review.service": "Service",
    "review.monthly": "Per month",
    "review.once": "Start fee",
    "review.total": "Total",
    "review.you": "Your details",
    "review.delivery": "Delivery",
    "review.message": "Message",
    "review.no_message": "No message",
    "review.confirm": "Confirm order",
    "review.edit": "Change details",
    "review.terms": "When you confirm, one order per service goes to its provider.",
    "thanks.title": "Thank you for your order",
    "thanks.title.named": "Thank you for your order, {name}!",
    "thanks.intro": "We have received your order. Keep the order numbers below in case you "
    "need to contact the provider.",
    "thanks.orders": "Your orders",
    "thanks.order": "Order number {id}",
    "thanks.direct.badge": "Activated immediately",
    "thanks.status.direct": "The service is ready to use.",
    "thanks.status.new": "Sent to the provider, who will contact you about delivery.",
    "thanks.status.other": "Status: {status}",
    "thanks.sp.confirmed": "{provider} has confirmed the order and writes:",
    "thanks.sp.rejected": "{provider} cannot take the order and writes:",
    "thanks.sp.pending": "{provider} has not answered yet. The provider will confirm the order "
    "by e-mail.",
    "thanks.direct.note": "{n} of the {total} services were activated immediately on the network.",
    "review.direct.later": "Activated on the date you chose",
    "review.table": "Services and prices",
    "duplicate.title": "You have ordered this already",
    "duplicate.text": "There are open orders from you for the same service at this address, "
    "placed in the last 24 hours. If you confirm again, there will be one more order.",
    "duplicate.order": "Order {id}: {service}, placed {at}",
    "duplicate.confirm": "Yes, I want to order once more",
    "duplicate.unconfirmed": "Tick the box if you really want to order once more. Nothing has "
    "been ordered.",
    "services.expired": "Your order was left too long and has not been sent. Please choose the "
    "services again.",
    "thanks.status.new.date": "Sent to the provider, who will deliver on {date} and contact "
    "you about delivery.",
    "thanks.direct.note.one": "1 of the {total} services was activated immediately on the network.",
    "thanks.follow.title": "Follow your order",
    "thanks.follow": "We have sent a receipt to your e-mail address. Through its link, or this "
    "one, you can see how your orders are coming along.",
    "thanks.follow.link": "See the status of your orders",
    "myorders.title": "Your orders",
    "myorders.intro": "Here you can see how the orders you placed in Tjänsteguiden are coming "
    "along.",
    "myorders.now": "Status:",
    "myorders.prices": "{monthly} per month, start fee {once}",
    "myorders.history": "History",
    "myorders.contact": "Questions about an order? Contact the provider and give the order number.",
    "orders.throttled.title": "Too many attempts",
    "orders.throttled.text": "Too many invalid links have been tried from your connection. "
    "Please wait a while and try again.",
    "contact.title": "Contact {name}",
    "contact.phone": "Phone",
    "contact.email": "E-mail",
    "contact.website": "Web",
    "contact.hours": "Opening hours",
    "cstatus.new": "Sent to the provider",
    "cstatus.received": "Received by the provider",
    "cstatus.active": "The provider is working on your order",
    "cstatus.waiting": "Waiting for something to be done",
    "cstatus.cancelled": "Cancelled",
    "cstatus.delivered": "Delivered",
    "thanks.more": "Order more services",
    "thanks.invalid.title": "This page cannot be shown",
    "thanks.invalid.text": "The link to this page is invalid, or your details have been "
    "removed. Your providers have your order numbers too.",
    "forbidden.title": "The form could not be sent",
    "forbidden.text": "The page was too old or was sent from another website. Nothing has been "
    "saved. Please start again.",
    "throttled": "Too many orders have been placed from your connection in a short time. "
    "Try again in {n} seconds. Nothing has been saved.",
    "conflict": "The order changed after it was sent. Review your details and confirm again.",
    "start_over": "Start again",
    "error.404.title": "Page not found",
    "error.404.text": "There is no page at this address. Check the link, or start again from "
    "the start page.",
    "error.500.title": "Something went wrong",
    "error.500.text": "An error occurred on our side, and what you did may not have been "
    "finished. Please try again in a little while.",
    "error.503.title": "The service is temporarily unavailable",
    "error.503.text": "Please try again in a little while. What you sent is not lost if you "
    "got a confirmation; otherwise, send it again.",
    "error.code": "Error code {status}",
    "error.home": "To the start page",
    "err.required.firstname": "Enter your first name",
    "err.required.surname": "Enter your surname",
    "err.required.serial": "Enter your personal identity number",
    "err.required.email": "Enter your e-mail address",
    "err.required.phone": "Enter your phone number",
    "err.too_long": "Enter at most {n} characters",
    "err.control": "Must not contain control characters",
    "err.serial.format": "Enter the number with 10 or 12 digits, for example 19700101-1233",
    "err.serial.date": "The number does not hold a valid date of birth",
    "err.serial.future": "The number holds a date of birth in the future",
    "err.serial.check": "The number is not valid, check the last digit",
    "err.email": "Enter a valid e-mail address, for example name@example.com",
    "err.phone": "Enter a valid phone number of 7–20 digits, for example 070-123 45 67",
    "err.premise": "Enter at most 20 letters, digits, spaces or hyphens",
    "err.delivery.range": "Choose a date from today up to one year ahead",
    "err.delivery.format": "Enter the date as YYYY-MM-DD, for example {example}",
    "err.delivery.missing": "Enter the date you want the delivery",
    "err.services.none": "Choose at least one service",
    "err.services.twice": "The same service is chosen twice",
    "err.services.not_offered": "A chosen service is not offered at this address. Choose from "
    "the services shown.",
    "err.access": "The address does not exist. Search for your address again.",
    "err.generic": "Check this field",
    "status.new": "new",
    "status.received": "received",
    "status.active": "in progress",
    "status.waiting": "waiting",
    "status.cancelled": "cancelled",
    "status.delivered": "delivered",
}

TEXTS: dict[str, dict[str, str]] = {"sv": SV, "en": EN}


def pick(lang: str | None) -> str:
    """A supported language code; anything else is the default."""
    return lang if lang in LANGS else DEFAULT


def translator(lang: str) -> Translate:
    texts = TEXTS[pick(lang)]

    def t(key: str, **values: object) -> str:
        text = texts.get(key) or SV.get(key) or key
        return text.format(**values) if values else text

    return t


def money(amount: Decimal, lang: str) -> str:
    """``1 295,50 kr`` in Swedish, ``SEK 1,295.50`` in English; whole kronor without decimals."""
    return domain_money(amount, pick(lang))


# (field or "*", pattern of the domain's English message, key of our text). First match wins.
_ERRORS: list[tuple[str, re.Pattern[str], str]] = [
    ("*", re.compile(r"^Required$"), "err.required.{field}"),
    ("*", re.compile(r"^At most (?P<n>\d+) characters"), "err.too_long"),
    ("*", re.compile(r"control characters"), "err.control"),
    ("customer.serial", re.compile(r"10 or 12 digits"), "err.serial.format"),
    ("customer.serial", re.compile(r"valid date of birth"), "err.serial.date"),
    ("customer.serial", re.compile(r"in the future"), "err.serial.future"),
    ("customer.serial", re.compile(r"check digit"), "err.serial.check"),
    ("customer.email", re.compile(r""), "err.email"),
    ("customer.phone", re.compile(r""), "err.phone"),
    ("customer.premise", re.compile(r""), "err.premise"),
    ("delivery", re.compile(r""), "err.delivery.range"),
    ("services", re.compile(r"(?i)at least one"), "err.services.none"),
    ("services", re.compile(r"(?i)twice"), "err.services.twice"),
    ("services", re.compile(r""), "err.services.not_offered"),
    ("coid", re.compile(r""), "err.access"),
    ("accessId", re.compile(r""), "err.access"),
]


def error_text(t: Translate, field: str, message: str) -> str:
    """The page's sentence for a domain error on ``field`` (named as in docs/guide-api.md)."""
    short = field.removeprefix("customer.")
    for where, pattern, key in _ERRORS:
        if where not in ("*", field):
            continue
        m = pattern.search(message)
        if m is None:
            continue
        resolved = key.format(field=short)
        if resolved in SV:
            return t(resolved, **m.groupdict())
    return t("err.generic")
