"""`parsegram --demo` as a new user runs it: one command, a password printed, channels filling with posts."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from app.db.embedded import free_port
from tests.serving import printed_password, processes_with, rows_with_posts, start_app, stop_app, wait_healthy
from tests.support import visible, wait_for

FIRST_POSTS_WITHIN = 60.0  # seconds from the command to channels with posts on the screen: the promise


@pytest.mark.timeout(150)  # a minute for the demo's promise, its start and stop, a browser
def test_one_command_shows_demo_channels_with_posts_and_ctrl_c_stops_everything(tmp_path: Path, nicegui_driver):
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    started = time.monotonic()
    process, log = start_app(tmp_path, port, 'demo.log', '--demo')
    driver = nicegui_driver
    try:
        password = wait_for(lambda: printed_password(log), FIRST_POSTS_WITHIN, what=f'a password in\n{log}')
        assert f'Dashboard: {url}' in log.read_text()
        wait_healthy(process, port, log)

        driver.get(f'{url}/login')
        visible(driver, 'input[type=password]', 15).send_keys(password + Keys.ENTER)
        left = FIRST_POSTS_WITHIN - (time.monotonic() - started)
        wait_for(lambda: rows_with_posts(driver), max(left, 0.1),
                 what=f'a channel row with posts within {FIRST_POSTS_WITHIN:.0f} s of the command')
        page = driver.find_element(By.TAG_NAME, 'body').text
        assert 'Parsegram Demo News' in page
        assert 'demo server, not from Telegram' in page  # said plainly, on every page
    finally:
        driver.delete_all_cookies()
        driver.get('about:blank')
        code = stop_app(process)
    output = log.read_text()
    assert code == 0, output
    assert 'Traceback' not in output
    assert processes_with(str(tmp_path)) == []  # the demo server and the embedded database stopped with it
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
