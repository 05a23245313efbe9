"""The app as it is served: its own process and uvicorn, stopped by a signal, with the files it leaves in DATA_DIR."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from tests.api.test_channels_api import log_in
from tests.support import eventually

ROOT = Path(__file__).resolve().parent.parent
GRACE = 2


@dataclass
class Served:
    process: subprocess.Popen
    url: str
    env: dict[str, str]
    data_dir: Path

    def api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30,
                                 headers={'Authorization': f'Bearer {self.env["API_TOKEN"]}'})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path, mongo_uri: str, telegram_dc) -> Iterator[Served]:
    port = _free_port()
    data_dir = tmp_path / 'data'
    inherited = ('TELEGRAM_', 'NICEGUI_', 'PYTEST_')  # a pytest variable makes NiceGUI think it runs a test
    env = {name: value for name, value in os.environ.items() if not name.startswith(inherited)}
    env.update({'MONGO_URI': mongo_uri, 'MONGO_DB': f'test_served_{uuid.uuid4().hex[:12]}', 'DATA_DIR': str(data_dir),
                'PORT': str(port), 'ADMIN_PASSWORD': 'served-admin-password', 'API_TOKEN': 'served-token-' + 'x' * 16,
                'SHUTDOWN_GRACE_SECONDS': str(GRACE), 'LOG_LEVEL': 'DEBUG', 'REQUEST_PACE_SCALE': '1000',
                **telegram_dc.env()})
    env.pop('SECRET_KEY', None)  # the app makes its own key file: its mode is checked
    log = (tmp_path / 'app.log').open('wb')
    process = subprocess.Popen([sys.executable, '-m', 'app'], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / 'app.log').read_text()
            try:
                if httpx.get(f'{url}/api/health', timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, 'the app did not start'
            time.sleep(0.2)
        yield Served(process, url, env, data_dir)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()
        with MongoClient(mongo_uri, serverSelectionTimeoutMS=2000) as client:
            client.drop_database(env['MONGO_DB'])


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
