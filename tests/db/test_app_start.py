"""`python -m app` with no configuration: embedded database, password printed once, clean stop, data kept."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.db.embedded import _cmdline, free_port

ROOT = Path(__file__).resolve().parents[2]
CLEARED = ('TELEGRAM_', 'MONGO_', 'NICEGUI_', 'PYTEST_')
CLEARED_NAMES = {'PORT', 'HOST', 'DATA_DIR', 'SECRET_KEY', 'ADMIN_PASSWORD', 'API_TOKEN', 'LOG_LEVEL'}


def start_app(tmp_path: Path, port: int, log_name: str, **extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED) and k not in CLEARED_NAMES}
    env.update(PORT=str(port), DATA_DIR=str(tmp_path / 'data'), PYTHONPATH=str(ROOT), **extra)
    log = tmp_path / log_name
    with open(log, 'wb') as out:
        process = subprocess.Popen([sys.executable, '-m', 'app'], cwd=tmp_path, env=env, stdout=out,
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
    process.send_signal(signal.SIGINT)
    return process.wait(30)


def database_servers(storage: Path) -> list[int]:
    pids = [int(p.name) for p in Path('/proc').iterdir() if p.name.isdigit()]
    return [pid for pid in pids if str(storage) in _cmdline(pid) and 'secantus' in ' '.join(_cmdline(pid))]


def test_first_start_needs_no_configuration_and_a_restart_keeps_everything(tmp_path: Path) -> None:
    port = free_port()
    token = f'start-test-token-{os.getpid()}-{port}-long-enough'
    first, log = start_app(tmp_path, port, 'first.log', API_TOKEN=token)
    try:
        health, before = wait_healthy(first, port, log)
        # the moment health first says ok, the API serves: no NOT_READY from a start-up still finishing
        served = httpx.get(f'http://127.0.0.1:{port}/api/tokens', headers={'Authorization': f'Bearer {token}'})
        assert served.status_code == 200, served.text
        assert before and set(before) == {'starting'}, before  # polled from the first answer: never degraded
        assert health['db'] == 'ok' and health['status'] == 'ok'
        assert httpx.get(f'http://127.0.0.1:{port}/api/tokens').status_code == 401
        page = httpx.get(f'http://127.0.0.1:{port}/dashboard/channels', follow_redirects=False)
        assert page.status_code in {302, 303, 307} and page.headers['location'].startswith('/login')
    finally:
        code = stop_app(first)
    output = log.read_text()
    assert code == 0, output
    assert 'Traceback' not in output
    assert output.count('shown only once') == 1
    password = output.split('shown only once): ')[1].split()[0]
    assert len(password) >= 20
    storage = (tmp_path / 'data' / 'db').resolve()
    assert database_servers(storage) == []  # the embedded server stopped with the app
    assert (tmp_path / 'data' / 'secret_key').is_file()

    second, log2 = start_app(tmp_path, port, 'second.log')
    try:
        wait_healthy(second, port, log2)
    finally:
        assert stop_app(second) == 0
    again = log2.read_text()
    assert 'shown only once' not in again and password not in again  # same stored password, not a new one
    assert database_servers(storage) == []
