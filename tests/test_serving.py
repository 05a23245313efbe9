"""The app as it is served: its own process and uvicorn, stopped by a signal, with the files it leaves in DATA_DIR."""
from __future__ import annotations

import asyncio
import signal
import stat
import time
import uuid
from datetime import UTC, datetime

import httpx
from pymongo import MongoClient

from tests.api.test_channels_api import log_in
from tests.serving import GRACE
from tests.support import eventually


async def test_sigterm_during_a_slow_request_exits_within_the_grace_and_frees_the_lease(served, telegram_dc):
    async with served.api() as api:
        account_id, _ = await log_in(telegram_dc, api, 6)
        username = f'slow_{uuid.uuid4().hex[:8]}'
        telegram_dc.create_channel('Slow To Resolve', username=username, posts=5, seed=61)
        telegram_dc.add_fault('contacts.resolveUsername', 'SLOW', seconds=120)
        slow = asyncio.create_task(api.post('/api/mtproto/channels', json={'ref': f'@{username}'}))
        await eventually(lambda: telegram_dc.faults_left() == 0, timeout=20)  # the request waits on Telegram now
        stopping = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(served.process.wait, 30)
        took = time.monotonic() - stopping
        await asyncio.gather(slow, return_exceptions=True)
    telegram_dc.clear_faults()
    assert exit_code in (0, -signal.SIGTERM) and took < GRACE + 10, (exit_code, took)  # uvicorn re-raises it
    with MongoClient(served.env['MONGO_URI'], serverSelectionTimeoutMS=2000) as client:
        account = client[served.env['MONGO_DB']].accounts.find_one({'_id': account_id})
    lease = account.get('lease')
    assert lease is None or lease['until'].replace(tzinfo=UTC) < datetime.now(UTC), lease  # free for the next start


async def test_data_dir_and_what_holds_secrets_are_the_users_alone(served):
    async with httpx.AsyncClient(base_url=served.url) as browser:
        assert (await browser.get('/login')).status_code == 200  # a dashboard session file
    key_file = served.data_dir / 'secret_key'
    await eventually(lambda: key_file.exists())
    assert stat.S_IMODE(served.data_dir.stat().st_mode) == 0o700
    for path in served.data_dir.rglob('*'):
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))
