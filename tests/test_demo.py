"""`parsegram --demo` as a new user runs it: one command, a password printed, channels filling with posts."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.db.embedded import _cmdline, free_port
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[1]
CLEARED = ('TELEGRAM_', 'MONGO_', 'NICEGUI_', 'PYTEST_')
CLEARED_NAMES = {'HOST', 'DATA_DIR', 'SECRET_KEY', 'ADMIN_PASSWORD', 'API_TOKEN', 'LOG_LEVEL'}
FIRST_POSTS_WITHIN = 60.0  # seconds from the command to channels with posts on the screen: the promise


def printed_password(log: Path) -> str | None:
    found = re.search(r'Password:\s+(\S+)', log.read_text())
    return found.group(1) if found else None


def healthy(url: str) -> bool:
    try:
        return httpx.get(f'{url}/api/health', timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def rows_with_posts(driver) -> list[str]:
    texts = [row.text for row in driver.find_elements(By.CSS_SELECTOR, '[data-channel]')]
    return [text for text in texts if (found := re.search(r'([\d,]+) posts? stored', text))
            and int(found.group(1).replace(',', '')) > 0]


def processes_under(path: Path) -> list[int]:
    pids = [int(p.name) for p in Path('/proc').iterdir() if p.name.isdigit()]
    return [pid for pid in pids if str(path) in ' '.join(_cmdline(pid))]


@pytest.mark.timeout(150)  # a minute for the demo's promise, its start and stop, a browser
def test_one_command_shows_demo_channels_with_posts_and_ctrl_c_stops_everything(tmp_path: Path, nicegui_driver):
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEARED) and k not in CLEARED_NAMES}
    port = free_port()
    env.update(PORT=str(port), DATA_DIR=str(tmp_path / 'data'), PYTHONPATH=str(ROOT))
    url = f'http://127.0.0.1:{port}'
    log = tmp_path / 'demo.log'
    started = time.monotonic()
    with open(log, 'wb') as out:
        process = subprocess.Popen([sys.executable, '-m', 'app', '--demo'], cwd=tmp_path, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    driver = nicegui_driver
    try:
        password = wait_for(lambda: printed_password(log), FIRST_POSTS_WITHIN, what=f'a password in\n{log}')
        assert f'Dashboard: {url}' in log.read_text()
        wait_for(lambda: healthy(url) or process.poll() is not None, FIRST_POSTS_WITHIN, what='health to say ok')
        assert process.poll() is None, log.read_text()

        driver.get(f'{url}/login')
        field = wait_for(lambda: next((e for e in driver.find_elements(By.CSS_SELECTOR, 'input[type=password]')
                                       if e.is_displayed()), None), 15, what='the password field')
        field.send_keys(password + Keys.ENTER)
        left = FIRST_POSTS_WITHIN - (time.monotonic() - started)
        wait_for(lambda: rows_with_posts(driver), max(left, 0.1),
                 what=f'a channel row with posts within {FIRST_POSTS_WITHIN:.0f} s of the command')
        page = driver.find_element(By.TAG_NAME, 'body').text
        assert 'Parsegram Demo News' in page
        assert 'demo server, not from Telegram' in page  # said plainly, on every page
    finally:
        driver.delete_all_cookies()
        driver.get('about:blank')
        process.send_signal(signal.SIGINT)  # Ctrl+C
        code = process.wait(30)
    output = log.read_text()
    assert code == 0, output
    assert 'Traceback' not in output
    assert processes_under(tmp_path) == []  # the demo server and the embedded database stopped with it
    assert (tmp_path / 'data-demo' / '.parsegram-demo').is_file()  # its own data, apart from DATA_DIR
    assert not (tmp_path / 'data' / 'db').exists()


def test_a_demo_never_writes_into_the_configured_database_or_data(tmp_path: Path, monkeypatch):
    from app.config import load_settings
    from app.demo import DemoServer, demo_data_dir, demo_settings

    monkeypatch.setenv('MONGO_URI', 'mongodb://db.example:27017/')
    monkeypatch.setenv('ADMIN_PASSWORD', 'the-real-dashboard-password')
    real = tmp_path / 'data'
    data_dir = demo_data_dir(real)
    assert data_dir == tmp_path / 'data-demo'
    (data_dir / 'key.pem').write_bytes(b'-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n')
    server = DemoServer(process=None, world={}, values={  # type: ignore[arg-type] - only its printed values are read
        'TELEGRAM_DC': '127.0.0.1:1', 'TELEGRAM_DC_ID': '2', 'TELEGRAM_PUBLIC_KEY': str(data_dir / 'key.pem')})
    settings = demo_settings(load_settings(), server, data_dir)
    assert settings.mongo_uri is None and settings.data_dir == data_dir and settings.demo
    assert settings.admin_password != 'the-real-dashboard-password'

    (data_dir / 'left-from-last-demo').write_text('x')
    assert not (demo_data_dir(real) / 'left-from-last-demo').exists()  # every demo starts empty

    (tmp_path / 'notes-demo').mkdir()
    (tmp_path / 'notes-demo' / 'mine.txt').write_text('keep me')
    with pytest.raises(SystemExit, match='not a demo directory'):
        demo_data_dir(tmp_path / 'notes')  # a directory that only looks like one is never emptied
    assert (tmp_path / 'notes-demo' / 'mine.txt').read_text() == 'keep me'
