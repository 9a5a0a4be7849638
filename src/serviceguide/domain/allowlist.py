"""IP allow-lists of KO API users: the addresses from which ``add_message`` may be called with
``api_user`` alone (docs/api.md)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from serviceguide.domain.errors import InvalidInput

#: Longest allow-list accepted; a KO's integration servers are a handful of addresses.
MAX_ENTRIES = 100
_LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def parse_network(entry: str, *, what: str = "admit") -> str:
    """One address or network in canonical form (``192.0.2.7`` → ``192.0.2.7/32``,
    ``10.0.0.9/24`` → ``10.0.0.0/24``); :class:`ValueError` saying why not. A network of every
    address (``0.0.0.0/0``, ``::/0``) is refused: it would ``what`` every address, no check at
    all."""
    try:
        net = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{entry!r} is not an IP address or network") from None
    if net.prefixlen == 0:
        raise ValueError(f"{entry} would {what} every address")
    return str(net)


def parse_allowlist(entries: Sequence[str]) -> list[str]:
    """Each entry as a network in canonical form (:func:`parse_network`), without repeats."""
    if len(entries) > MAX_ENTRIES:
        raise InvalidInput("allow-ip", f"at most {MAX_ENTRIES} entries")
    out: list[str] = []
    for entry in entries:
        try:
            net = parse_network(entry)
        except ValueError as e:
            raise InvalidInput("allow-ip", str(e)) from None
        if net not in out:
            out.append(net)
    return out


def admits_loopback(networks: Sequence[str]) -> bool:
    """Whether the list admits this machine: behind a proxy on this machine that is not named
    in ``SERVICEGUIDE_TRUSTED_PROXIES``, every client would then look allowed."""
    return any(ip in ipaddress.ip_network(n) for n in networks for ip in _LOOPBACK)
