"""`python -m app` with no configuration: embedded database, password printed once, clean stop, data kept."""
from __future__ import annotations

import os
from pathlib import Path

import httpx

from app.db.embedded import free_port
from tests.serving import processes_with, start_app, stop_app, wait_healthy


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
    assert processes_with(str(storage), 'secantus') == []  # the embedded server stopped with the app
    assert (tmp_path / 'data' / 'secret_key').is_file()

    second, log2 = start_app(tmp_path, port, 'second.log')
    try:
        wait_healthy(second, port, log2)
    finally:
        assert stop_app(second) == 0
    again = log2.read_text()
    assert 'shown only once' not in again and password not in again  # same stored password, not a new one
    assert processes_with(str(storage), 'secantus') == []
