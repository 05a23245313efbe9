"""The app served in its own process by uvicorn, as `python -m app` runs it, for tests about serving itself."""
from __future__ import annotations

import os
import re
import signal
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
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from app.db.embedded import _cmdline

ROOT = Path(__file__).resolve().parent.parent
GRACE = 2
# what a person starting Parsegram for the first time would not have set
CLEARED = ('TELEGRAM_', 'MONGO_', 'NICEGUI_', 'PYTEST_')
CLEARED_NAMES = {'PORT', 'HOST', 'DATA_DIR', 'SECRET_KEY', 'ADMIN_PASSWORD', 'API_TOKEN', 'LOG_LEVEL'}


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


def start_app(tmp_path: Path, port: int, log_name: str, *args: str, **extra: str
              ) -> tuple[subprocess.Popen[bytes], Path]:
    """`python -m app *args` with nothing configured but the port and DATA_DIR (and `extra`), run in `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED) and k not in CLEARED_NAMES}
    env.update(PORT=str(port), DATA_DIR=str(tmp_path / 'data'), PYTHONPATH=str(ROOT), **extra)
    log = tmp_path / log_name
    with open(log, 'wb') as out:
        process = subprocess.Popen([sys.executable, '-m', 'app', *args], cwd=tmp_path, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    return process, log


def wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> tuple[dict, list[str]]:
    """Poll health as a load balancer would; the first `ok` answer, and every status seen before it."""
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            response = httpx.get(f'http://127.0.0.1:{port}/api/health', timeout=3)
        except httpx.HTTPError:
            time.sleep(0.05)
            continue
        body = response.json()
        assert (response.status_code == 200) == (body['status'] == 'ok'), body
        if response.status_code == 200:
            return body, seen
        seen.append(body['status'])
        time.sleep(0.05)
    raise AssertionError(f'app did not become healthy:\n{log.read_text()}')


def stop_app(process: subprocess.Popen[bytes]) -> int:
    """Ctrl+C, and the exit code."""
    process.send_signal(signal.SIGINT)
    return process.wait(30)


def processes_with(*words: str) -> list[int]:
    """Processes whose command line holds every one of `words` (a data path, a program name)."""
    pids = [int(p.name) for p in Path('/proc').iterdir() if p.name.isdigit()]
    return [pid for pid in pids if all(word in ' '.join(_cmdline(pid)) for word in words)]


def printed_password(log: Path) -> str | None:
    """The dashboard password a demo start printed, once it has."""
    found = re.search(r'Password:\s+(\S+)', log.read_text())
    return found.group(1) if found else None


def rows_with_posts(driver: WebDriver) -> list[str]:
    """The channel list's rows (in a browser) that show at least one stored post."""
    texts = [row.text for row in driver.find_elements(By.CSS_SELECTOR, '[data-channel]')]
    return [text for text in texts if (found := re.search(r'([\d,]+) posts? stored', text))
            and int(found.group(1).replace(',', '')) > 0]


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
        wait_healthy(process, port, tmp_path / 'app.log')
        yield Served(process, url, env, data_dir)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()
        with MongoClient(mongo_uri, serverSelectionTimeoutMS=2000) as client:
            client.drop_database(env['MONGO_DB'])
