"""The one door to Telegram: every request the app names has a method class, and only the client factory builds a
client (so every client is a DoorClient, and every request it sends is paced, counted and FloodWait-checked)."""
from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from telethon import functions

from app.mtproto.door import REQUEST_CLASSES, StoredFloodWait, TelegramDoor, classify
from app.mtproto.limits import Budget, MethodClass, RequestLimiter
from tests.support import door_client, unpaced

APP = Path(__file__).resolve().parents[2] / 'app'
FACTORY = APP / 'mtproto' / 'client_factory.py'


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(APP.rglob('*.py'))]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f'{_dotted(node.value)}.{node.attr}'
    return node.id if isinstance(node, ast.Name) else ''


def test_every_request_the_app_sends_has_its_method_class() -> None:
    named = {_dotted(node) for _, tree in _modules() for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and _dotted(node).startswith('functions.')
             and node.attr.endswith('Request')}
    assert len(named) >= 10, named  # the scan finds the app's requests
    missing = []
    for name in sorted(named):
        request_type = functions
        for part in name.split('.')[1:]:
            request_type = getattr(request_type, part)
        if request_type not in REQUEST_CLASSES:
            missing.append(name)
    assert missing == [], f'add these to REQUEST_CLASSES in app/mtproto/door.py: {missing}'


def test_a_request_not_in_the_table_is_paced_as_other() -> None:
    assert classify(functions.messages.GetAllStickersRequest(hash=0)) == MethodClass.OTHER
    assert classify(functions.messages.GetHistoryRequest(
        peer=None, offset_id=0, offset_date=None, add_offset=0, limit=1, max_id=0, min_id=0, hash=0)) == \
        MethodClass.HISTORY


def test_only_the_client_factory_builds_a_telegram_client() -> None:
    builders = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _dotted(node.func).split('.')[-1] in {'TelegramClient', 'DoorClient'}:
                builders.append(f'{path.relative_to(APP.parent)}:{node.lineno}')
    assert builders and all(b.startswith('app/mtproto/client_factory.py:') for b in builders), builders


async def test_a_stored_flood_wait_refuses_before_anything_is_sent(telegram_dc) -> None:
    door = TelegramDoor(unpaced())
    client = door_client(telegram_dc, door, 'acc')
    await door.note('acc', 600, MethodClass.RESOLVE)
    with pytest.raises(StoredFloodWait) as refused:
        await client(functions.contacts.ResolveUsernameRequest(username='somebody'))
    assert 595 <= refused.value.seconds <= 600 and refused.value.kind == MethodClass.RESOLVE
    assert door.sent_by('acc') == {}


async def test_a_request_waiting_for_its_turn_counts_for_the_account_its_login_became(telegram_dc) -> None:
    """A login's client becomes an account's while a request of it waits for its turn (Telethon's update loop asks
    for the state right after sign-in): the request counts for the account, where Telegram counts it too."""
    now, waits, released = [0.0], asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:  # the turn comes once the test lets it, and the clock moves on
        waits.set()
        await released.wait()
        now[0] += seconds

    door = TelegramDoor(RequestLimiter({MethodClass.OTHER: Budget(per_second=0.01, burst=1)}, clock=lambda: now[0],
                                       sleep=sleep))
    client = door_client(telegram_dc, door, 'login')
    await client.connect()
    try:
        await client(functions.help.GetNearestDcRequest())  # the one request of the burst
        waiting = asyncio.ensure_future(client(functions.help.GetNearestDcRequest()))
        await waits.wait()
        door.rekey('login', 'acc')  # what AccountManager.adopt does
        client.door_key = 'acc'
        released.set()
        await waiting
    finally:
        await client.disconnect()
    assert door.sent_by('acc')['help.getNearestDc'] == 2 and 'help.getNearestDc' not in door.sent_by('login')
