"""Builds TelegramClient instances configured from Settings (credentials, optional non-production server)."""
from __future__ import annotations

import ipaddress
import socket
from functools import cache
from pathlib import Path

from telethon.crypto import rsa
from telethon.sessions import StringSession

from app.config import Settings
from app.i18n import lazy
from app.mtproto.door import DoorClient, TelegramDoor

DEVICE_MODEL = 'Parsegram'
APP_VERSION = '0.1.0'
DEFAULT_DC_ID = 2
# While logging in, FloodWaits up to this many seconds are slept through by Telethon; longer ones reach us so we
# can answer 429 instead of blocking a request for minutes.
FLOOD_SLEEP_THRESHOLD = 5
# An account's client never sleeps on its own: every FloodWait reaches the service that made the call, which
# records it for that method class and decides (a job waits, a request answers 429). Telethon reads the
# threshold from the client when a FloodWait arrives, whatever a request passes, so it is set once, per client.
ACCOUNT_FLOOD_SLEEP_THRESHOLD = 0


class TelegramNotConfigured(RuntimeError):
    """TELEGRAM_API_ID / TELEGRAM_API_HASH are missing."""

    def __init__(self) -> None:
        super().__init__(lazy('Telegram is not configured: set TELEGRAM_API_ID and TELEGRAM_API_HASH (create them at '
                              'https://my.telegram.org → API development tools) and restart.'))


@cache
def _register_public_key(path: str) -> None:
    rsa.add_key(Path(path).read_bytes(), old=False)


def _resolve(host: str) -> str:
    # StringSession stores the server address as a packed IP, so names must be resolved first.
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return socket.gethostbyname(host)


def server_address(settings: Settings) -> tuple[int, str, int] | None:
    """(dc_id, ip, port) of the configured non-production server, or None for Telegram's own servers."""
    if not settings.telegram_dc:
        return None
    host, _, port = settings.telegram_dc.rpartition(':')
    if not host or not port.isdigit():
        raise ValueError(f'TELEGRAM_DC must look like host:port, got {settings.telegram_dc!r}')
    return settings.telegram_dc_id or DEFAULT_DC_ID, _resolve(host.strip('[]')), int(port)


def make_client(settings: Settings, session: str = '', *, door: TelegramDoor, door_key: str,
                flood_sleep_threshold: int = FLOOD_SLEEP_THRESHOLD) -> DoorClient:
    """A configured, not yet connected client whose requests go through `door` as `door_key`'s. Call it inside
    the event loop that will connect it."""
    if not settings.telegram_configured:
        raise TelegramNotConfigured()
    if settings.telegram_public_key:
        _register_public_key(str(settings.telegram_public_key))
    string_session = StringSession(session or None)
    server = server_address(settings)
    if server is not None:
        dc_id, ip, port = server
        # A stored session keeps its auth key; only its address follows the configured server (same DC).
        if not session or string_session.dc_id == dc_id:
            string_session.set_dc(dc_id, ip, port)
    return DoorClient(
        string_session,
        int(settings.telegram_api_id),
        str(settings.telegram_api_hash),
        device_model=DEVICE_MODEL,
        app_version=APP_VERSION,
        system_version='1.0',
        flood_sleep_threshold=flood_sleep_threshold,
        connection_retries=3,
        retry_delay=1,
        request_retries=3,
        auto_reconnect=True,
        timeout=10,
        receive_updates=True,
        door=door,
        door_key=door_key,
    )
