"""IP allow-lists of KO API users: the addresses from which ``add_message`` may be called with
``api_user`` alone (docs/api.md)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from serviceguide.domain.errors import InvalidInput

#: Longest allow-list accepted; a KO's integration servers are a handful of addresses.
MAX_ENTRIES = 100
_LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def parse_allowlist(entries: Sequence[str]) -> list[str]:
    """Each entry as a network in canonical form (``192.0.2.7`` → ``192.0.2.7/32``,
    ``10.0.0.9/24`` → ``10.0.0.0/24``). Refuses what is not an address or network, and a network
    that admits every address (``0.0.0.0/0``, ``::/0``): that would be no check at all."""
    if len(entries) > MAX_ENTRIES:
        raise InvalidInput("allow-ip", f"at most {MAX_ENTRIES} entries")
    out: list[str] = []
    for entry in entries:
        try:
            net = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise InvalidInput("allow-ip", f"{entry!r} is not an IP address or network") from None
        if net.prefixlen == 0:
            raise InvalidInput("allow-ip", f"{entry} would admit every address")
        if str(net) not in out:
            out.append(str(net))
    return out


def admits_loopback(networks: Sequence[str]) -> bool:
    """Whether the list admits this machine: behind a proxy on this machine that is not named
    in ``SERVICEGUIDE_TRUSTED_PROXIES``, every client would then look allowed."""
    return any(ip in ipaddress.ip_network(n) for n in networks for ip in _LOOPBACK)
