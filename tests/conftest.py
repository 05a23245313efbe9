"""Shared fixtures: a real MongoDB wire server, fresh databases, the app's environment, log capture, browser.

- `mongo_uri` (session): TEST_MONGO_URI, or a SecantusDB process started for the session.
- `db`: a fresh, uniquely named AsyncDatabase, dropped afterwards. `repos`: `Repos.create(db)` with indexes.
- `app_env`: environment for running the app in a test (also applied automatically before NiceGUI's `user`
  and `screen` fixtures). Override `app_extra_env` in a test module to add variables, e.g. `telegram_dc.env()`.
- `app_root`: the running app's `Root` (use with `user`), once its start-up has finished.
- `log_capture`: everything logged during the test as text (`log_capture.text`).
"""
from __future__ import annotations

import functools
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from loguru import logger
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase

from app.child_process import die_with_parent
from app.db.embedded import free_port
from app.db.repos import Repos

pytest_plugins = ['tests.run_guard', 'tests.telegram_dc.pytest_plugin', 'tests.serving']

ADMIN_PASSWORD = 'correct horse battery staple 42'
CHROMIUM = os.environ.get('CHROMIUM_BINARY', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')


# ---------------------------------------------------------------- order

def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption('--shuffle', metavar='SEED', type=int, default=None,
                     help='run the tests in an order shuffled by SEED (the same order in every xdist worker), '
                          'to show that none depends on another having run first')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed = config.getoption('shuffle')
    if seed is not None:
        random.Random(seed).shuffle(items)


def pytest_report_header(config: pytest.Config) -> str | None:
    seed = config.getoption('shuffle')
    return None if seed is None else f'tests shuffled with --shuffle {seed}'


# ---------------------------------------------------------------- database

@pytest.fixture(scope='session')
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get('TEST_MONGO_URI'):
        yield os.environ['TEST_MONGO_URI']
        return
    port = free_port()
    log_path = tmp_path_factory.mktemp('secantus') / 'server.log'
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(
            [sys.executable, '-m', 'secantus', '--host', '127.0.0.1', '--port', str(port),
             '--storage-path', ':memory:', '--log-level', 'WARNING'],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent(),
        )
    try:
        uri = f'mongodb://127.0.0.1:{port}/?directConnection=true'
        _wait_for_database(process, uri, log_path)
        yield uri
    finally:  # also when start-up fails or the run is interrupted
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_database(process: subprocess.Popen, uri: str, log_path: Path) -> None:
    client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=300)
    deadline = time.monotonic() + 30
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f'test database exited: {log_path.read_text()[-500:]}')
            try:
                client.admin.command('ping')
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        client.close()


@pytest.fixture
async def db(mongo_uri: str) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True, serverSelectionTimeoutMS=5000)
    name = f'test_{uuid.uuid4().hex[:16]}'
    try:
        yield client[name]
    finally:
        try:
            await client.drop_database(name)
        finally:
            await client.close()


@pytest.fixture
async def repos(db: AsyncDatabase) -> Repos:
    created = Repos.create(db)
    await created.ensure_indexes()
    return created


# ---------------------------------------------------------------- the app

@pytest.fixture
def app_extra_env() -> dict[str, str]:
    """Override in a test module to add environment variables for the app (e.g. `telegram_dc.env()`)."""
    return {}


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mongo_uri: str,
            app_extra_env: dict[str, str]) -> Iterator[dict[str, str]]:
    for name in list(os.environ):
        if name.startswith('TELEGRAM_') or name in {'API_TOKEN', 'MONGO_URI', 'MONGO_DB', 'SECRET_KEY',
                                                    'ADMIN_PASSWORD', 'DATA_DIR', 'PORT', 'HOST', 'LOG_LEVEL',
                                                    'REQUEST_PACE_SCALE', 'HISTORY_REQUESTS_PER_SECOND'}:
            monkeypatch.delenv(name, raising=False)
    env = {
        'MONGO_URI': mongo_uri,
        'MONGO_DB': f'test_app_{uuid.uuid4().hex[:12]}',
        'DATA_DIR': str(tmp_path / 'data'),
        'ADMIN_PASSWORD': ADMIN_PASSWORD,
        'SECRET_KEY': secrets.token_urlsafe(32),
        'API_TOKEN': f'test-api-token-{secrets.token_urlsafe(16)}',
        'LOG_LEVEL': 'DEBUG',
        'REQUEST_PACE_SCALE': '1000',  # tests that study pacing set their own limits
        **app_extra_env,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env
    client: MongoClient = MongoClient(env['MONGO_URI'], serverSelectionTimeoutMS=2000)
    try:
        client.drop_database(env['MONGO_DB'])
    except Exception:
        pass
    finally:
        client.close()


# What a page shows can take seconds to appear while the other workers of a parallel run keep both cores busy,
# where a quiet machine shows it at once: the `user` checks, and a browser's first page, wait that long before
# they fail. (The browser's implicit wait stays NiceGUI's 4 s: it also delays every look for what is rightly
# absent.)
PATIENCE_SECONDS = 15


@pytest.fixture
async def user(app_env: dict[str, str], user):  # noqa: F811 - extends NiceGUI's fixture: env first
    retries = {'retries': PATIENCE_SECONDS * 10}  # should_see sleeps 0.1 s between tries (should_not_see 0.05 s)
    user.should_see = functools.partial(user.should_see, **retries)  # a test's own retries= still wins
    user.should_not_see = functools.partial(user.should_not_see, **retries)
    yield user


@pytest.fixture
def screen(app_env: dict[str, str], screen):  # noqa: F811 - extends NiceGUI's fixture: env first
    # the first page of a test also starts the app in this process, which a busy machine may not finish in 3 s
    screen.open = functools.partial(screen.open, timeout=PATIENCE_SECONDS)
    yield screen


@pytest.fixture
async def app_root(user):
    """The composition root of the app running under `user`, after its start-up (database, components) finished."""
    from nicegui import app

    root = app.state.root
    assert await root.wait_started(20), f'app did not start: {root.database.last_error}'
    return root


@pytest.fixture
async def api(user, app_root, app_env):
    """An HTTP client for the app running under `user`, sending the API token."""
    client = user.http_client
    client.headers['Authorization'] = f'Bearer {app_env["API_TOKEN"]}'
    return client


# ---------------------------------------------------------------- logs

class LogCapture:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, message: str) -> None:
        self.lines.append(str(message))

    @property
    def text(self) -> str:
        return ''.join(self.lines)

    def __contains__(self, item: str) -> bool:
        return item in self.text


@pytest.fixture
def log_capture() -> Iterator[LogCapture]:
    from app.logging import intercept_stdlib

    intercept_stdlib()
    capture = LogCapture()
    sink_id = logger.add(capture.write, level=0, format='{level} {name} {message}', backtrace=False, diagnose=False)
    try:
        yield capture
    finally:
        logger.remove(sink_id)


# ---------------------------------------------------------------- browser (NiceGUI `screen`)

@pytest.fixture(scope='session')
def nicegui_chrome_options(nicegui_chrome_options):  # noqa: F811 - extends NiceGUI's options
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        pytest.fail(f'Chromium ({CHROMIUM}) and chromedriver ({CHROMEDRIVER}) are needed for browser tests; '
                    'install the Debian packages chromium and chromium-driver')
    options = nicegui_chrome_options
    options.binary_location = CHROMIUM
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                     '--disable-background-networking', '--disable-component-update', '--disable-sync',
                     '--no-first-run', '--disable-extensions', '--window-size=1280,900',
                     '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1'):
        options.add_argument(argument)
    return options


@pytest.fixture(scope='session')
def nicegui_driver(nicegui_chrome_options):  # noqa: F811 - a local chromedriver, no Selenium Manager
    from nicegui.testing.screen import Screen
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    service = Service(CHROMEDRIVER, popen_kw={'preexec_fn': die_with_parent()})
    driver = webdriver.Chrome(service=service, options=nicegui_chrome_options)
    driver.implicitly_wait(Screen.IMPLICIT_WAIT)
    driver.set_page_load_timeout(15)
    yield driver
    driver.quit()
