"""Where webhooks may not be delivered: a subscription's URL is given by whoever holds an
admin key, and the worker POSTs from inside the platform's network — to a loopback,
private, link-local (cloud metadata, 169.254.169.254) or otherwise non-public address it
would reach what the internet cannot (server-side request forgery).

Unless `LOYALTY_WEBHOOK_ALLOW_PRIVATE` is true (a receiver on the same host or network,
tests), such a URL is refused when subscribing, and checked again before each attempt
(a name may resolve elsewhere later): the attempt then fails with the reason, retried and
dead-lettered like any failed one."""

from __future__ import annotations

import ipaddress
import socket

import httpx

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _addresses(host: str) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # not resolvable now: the attempt fails on its own
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]


def refused(url: str) -> str | None:
    """Why `url` may not be delivered to (its host is, or resolves to, an address that is
    not public); None when it may."""
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, ValueError, TypeError):
        return "not a URL"
    for found in _addresses(host):
        address = found.ipv4_mapped if isinstance(found, ipaddress.IPv6Address) \
            and found.ipv4_mapped is not None else found
        if not address.is_global:
            return (f"{host} is {address}, not a public address (set "
                    "LOYALTY_WEBHOOK_ALLOW_PRIVATE=true to deliver to private networks)")
    return None
