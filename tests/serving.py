"""The app served in its own process by uvicorn, as `python -m app` runs it, for tests about serving itself."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

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
