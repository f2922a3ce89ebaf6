"""Addresses and networks read in one spelling (an IPv4 written inside IPv6 is that IPv4)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDRs (``10.0.0.5``, ``10.0.0.0/8``, ``::1``); ValueError names a bad one."""
    networks = []
    for value in values:
        text = value.strip()
        if not text:
            continue
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise ValueError(f"not an address or a network: {text!r}") from exc
        if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None \
                and network.prefixlen >= 96:
            # ::ffff:10.0.0.0/104 is 10.0.0.0/8: peers are compared in their IPv4 form.
            network = ipaddress.ip_network(f"{network.network_address.ipv4_mapped}/{network.prefixlen - 96}")
        networks.append(network)
    return tuple(networks)


def normalise(text: str) -> Address | None:
    """An address in one spelling (IPv4 embedded in IPv6 as IPv4, no zone, no brackets); None if not one."""
    text = text.strip().strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
