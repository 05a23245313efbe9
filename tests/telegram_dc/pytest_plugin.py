"""pytest plugin: a session-wide test DC in its own thread, and helpers to reach it from tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from telethon import TelegramClient
from telethon.crypto import rsa
from telethon.sessions import StringSession

from .server import TelegramDC

API_ID = 1
API_HASH = 'parsegram-test'


def code_for_phone(phone: str) -> str | None:
    """Telegram's test-DC convention: 99966XYYYY gets the code XXXXX."""
    digits = phone.lstrip('+')
    if len(digits) == 10 and digits.startswith('99966'):
        return digits[5] * 5
    return None


class DcHandle:
    """Thread-safe access to a running `TelegramDC` and its World from test code."""

    def __init__(self, dc: TelegramDC, public_key_path: Path) -> None:
        self.dc = dc
        self.world = dc.world
        self.host = dc.host
        self.port = dc.port
        self.dc_id = dc.dc_id
        self.public_key_path = public_key_path
        self.public_key_pem = dc.public_key_pem
        self.control_url = f'http://{dc.host}:{dc.control_port}' if dc.control_port else None
        self._phones: dict[int, Iterator[int]] = {}

    def _world(self, name: str, *args: Any, **kw: Any) -> Any:
        return self.dc.call(getattr(self.world, name), *args, **kw)

    # World mutations, run inside the DC's loop.
    def create_user(self, phone: str, first_name: str, **kw: Any) -> int:
        return self._world('create_user', phone, first_name, **kw)

    def create_channel(self, title: str, **kw: Any) -> dict:
        return self._world('create_channel', title, **kw)

    def add_member(self, channel_id: int, user_id: int) -> Any:
        return self._world('add_member', channel_id, user_id)

    def create_folder(self, user_id: int, title: str, channel_ids: list[int], **kw: Any) -> int:
        return self._world('create_folder', user_id, title, channel_ids, **kw)

    def post_message(self, channel_id: int, text: str, **fields: Any) -> int:
        return self._world('post_message', channel_id, text, **fields)

    def edit_message(self, channel_id: int, message_id: int, text: str) -> Any:
        return self._world('edit_message', channel_id, message_id, text)

    def delete_messages(self, channel_id: int, message_ids: list[int]) -> Any:
        return self._world('delete_messages', channel_id, message_ids)

    def hide_from_history(self, channel_id: int, message_ids: list[int]) -> Any:
        return self._world('hide_from_history', channel_id, message_ids)

    def expire_file_references(self, channel_id: int, message_ids: list[int] | None = None) -> int:
        return self._world('expire_file_references', channel_id, message_ids)

    def media_of(self, channel_id: int, message_id: int) -> Any:
        return self._world('media_of', channel_id, message_id)

    def file_content(self, channel_id: int, message_id: int) -> bytes:
        return self._world('file_content', channel_id, message_id)

    def create_discussion(self, channel_id: int, title: str | None = None, **kw: Any) -> int:
        return self._world('create_discussion', channel_id, title, **kw)

    def add_comment(self, channel_id: int, post_id: int, text: str, **kw: Any) -> int:
        return self._world('add_comment', channel_id, post_id, text, **kw)

    def edit_comment(self, group_id: int, comment_id: int, text: str) -> None:
        return self._world('edit_comment', group_id, comment_id, text)

    def delete_comments(self, group_id: int, comment_ids: list[int]) -> list[int]:
        return self._world('delete_comments', group_id, comment_ids)

    def seed_comments(self, channel_id: int, post_ids: list[int], **kw: Any) -> int:
        return self._world('seed_comments', channel_id, post_ids, **kw)

    def saved_messages(self, user_id: int) -> list[dict]:
        return self._world('saved_messages', user_id)

    def post_service(self, channel_id: int, title: str) -> Any:
        return self._world('post_service', channel_id, title)

    def set_views(self, channel_id: int, message_id: int, views: int) -> Any:
        return self._world('set_views', channel_id, message_id, views)

    def login_code(self, phone: str) -> str | None:
        return self._world('login_code', phone)

    def accept_qr(self, user_id: int) -> Any:
        return self._world('accept_qr', user_id)

    def revoke_sessions(self, user_id: int) -> Any:
        return self._world('revoke_sessions', user_id)

    # Faults and connections.
    def add_fault(self, method: str, error: str, seconds: float | None = None, count: int = 1) -> None:
        self.dc.call(self.dc.add_fault, method, error, seconds=seconds, count=count)

    def clear_faults(self) -> None:
        self.dc.call(self.dc.clear_faults)

    def faults_left(self) -> int:
        return self.dc.call(self.dc.faults_left)

    def disconnect_all(self) -> int:
        return self.dc.call(self.dc.disconnect_all)

    # Telegram's request limits and the calls the DC counted.
    def set_limits(self, profile: str = 'realistic', **methods: dict) -> dict:
        """set_limits('realistic', **{'messages.getHistory': {'rate': 20}}); 'off' removes them."""
        return self.dc.call(self.dc.set_limits, profile, methods)

    def stats(self) -> dict:
        return self.dc.call(self.dc.stats)

    def reset_stats(self) -> None:
        self.dc.call(self.dc.reset_stats)

    # Client side.
    def new_phone(self, x: int = 1) -> str:
        """A fresh test number 99966XYYYY whose login code is X repeated five times."""
        if not 1 <= x <= 9:
            raise ValueError('x must be a digit 1-9')
        counter = self._phones.setdefault(x, itertools.count(1))
        taken = getattr(self.world, 'user_by_phone', None)
        while True:
            phone = f'99966{x}{next(counter):04d}'
            if taken is None or self.dc.call(taken, phone) is None:
                return phone

    def env(self) -> dict[str, str]:
        return {
            'TELEGRAM_API_ID': str(API_ID),
            'TELEGRAM_API_HASH': API_HASH,
            'TELEGRAM_DC': f'{self.host}:{self.port}',
            'TELEGRAM_DC_ID': str(self.dc_id),
            'TELEGRAM_PUBLIC_KEY': str(self.public_key_path),
        }

    def make_client(self, session: str = '', *, client_class: type[TelegramClient] = TelegramClient,
                    **kw: Any) -> TelegramClient:
        """A configured, not yet connected client (of `client_class`); create it inside the test's running loop."""
        string_session = StringSession(session or None)
        string_session.set_dc(self.dc_id, self.host, self.port)
        return client_class(string_session, API_ID, API_HASH, **kw)

    async def login(self, client: TelegramClient, phone: str, password: str | None = None) -> Any:
        """Sign the client in with the code flow (and the 2FA password if the account has one)."""
        if not client.is_connected():
            await client.connect()
        sent = await client.send_code_request(phone)
        code = code_for_phone(phone) or self.login_code(phone)
        if password is None:
            return await client.sign_in(phone, code, phone_code_hash=sent.phone_code_hash)
        from telethon.errors import SessionPasswordNeededError

        try:
            return await client.sign_in(phone, code, phone_code_hash=sent.phone_code_hash)
        except SessionPasswordNeededError:
            return await client.sign_in(password=password)

    async def signed_in_client(self, first_name: str) -> TelegramClient:
        """A connected client of a new user with a fresh phone number; `client.user_id` is that user's id."""
        client = self.make_client()
        phone = self.new_phone(1)
        user_id = self.create_user(phone, first_name)
        await self.login(client, phone)
        client.user_id = user_id
        return client


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        'markers', "dc_limits(profile='realistic', **methods): run the test with the test DC's request limits on")


@pytest.fixture(autouse=True)
def _dc_limits(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests marked dc_limits get Telegram's limits (and fresh statistics); every other test runs without."""
    marker = request.node.get_closest_marker('dc_limits')
    if marker is None:
        yield
        return
    dc: DcHandle = request.getfixturevalue('telegram_dc')
    profile = marker.args[0] if marker.args else 'realistic'
    dc.set_limits(profile, **marker.kwargs)
    dc.reset_stats()
    try:
        yield
    finally:
        dc.set_limits('off')


@pytest.fixture(scope='session')
def telegram_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DcHandle]:
    dc = TelegramDC(control_port=0).start_in_thread()
    rsa.add_key(dc.public_key_pem.decode(), old=False)
    path = tmp_path_factory.mktemp('telegram_dc') / 'public_key.pem'
    path.write_bytes(dc.public_key_pem)
    try:
        yield DcHandle(dc, path)
    finally:
        dc.stop_thread()
