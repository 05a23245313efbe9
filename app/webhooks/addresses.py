"""Where a webhook may send: http(s) only, and not to this machine or its private network unless allowed.

The check runs on every request and every redirect, after DNS resolution: a host name that resolves to a private
address is refused like the address itself. WEBHOOK_ALLOW_PRIVATE=true allows every address; a list of addresses
or networks (`10.0.0.5,192.168.1.0/24`) allows just those.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from app.i18n import LazyText, lazy

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(Exception):
    def __init__(self, message: LazyText) -> None:
        super().__init__(str(message))
        self.message = message


class AddressPolicy:
    def __init__(self, allow: str | bool = False) -> None:
        text = str(allow).strip().lower()
        self.allow_all = text in ('true', '1', 'yes')
        self.allowed: list[Network] = []
        if not self.allow_all and text not in ('', 'false', '0', 'no'):
            for part in str(allow).split(','):
                if part.strip():
                    self.allowed.append(ipaddress.ip_network(part.strip(), strict=False))

    def private(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return not address.is_global or address.is_multicast

    def permits(self, address: Address) -> bool:
        return self.allow_all or not self.private(address) or any(address in net for net in self.allowed)

    @staticmethod
    def check_url(url: str) -> tuple[str, int]:
        """(host, port) of an http(s) URL; AddressRefused for anything else."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise AddressRefused(lazy('"{url}" is not a valid URL.', url=url)) from None
        if parts.scheme not in ('http', 'https') or not parts.hostname:
            raise AddressRefused(lazy('Webhook URLs must start with http:// or https:// and name a host.'))
        return parts.hostname, port or (443 if parts.scheme == 'https' else 80)

    async def check(self, url: str) -> None:
        """Refuse a URL whose host is, or resolves to, an address this policy does not permit."""
        host, port = self.check_url(url)
        try:
            literal = ipaddress.ip_address(host)
            addresses = [literal]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError:
                raise AddressRefused(lazy('The host "{host}" could not be resolved; check the URL.', host=host)) \
                    from None
            addresses = [ipaddress.ip_address(info[4][0].split('%')[0]) for info in infos]
        for address in addresses:
            if not self.permits(address):
                raise AddressRefused(lazy(
                    '{host} is a private, loopback or link-local address ({address}); webhooks may not send there '
                    'unless WEBHOOK_ALLOW_PRIVATE allows it.', host=host, address=str(address)))
