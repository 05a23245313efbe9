"""The database connection and the embedded server: start, stop, restart, crash leftovers, unreachable server."""
from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from pymongo import WriteConcern

from app.config import Settings
from app.db.client import Database
from app.db.embedded import free_port
from tests.support import eventually


def embedded_settings(data_dir: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data_dir, mongo_uri=None, mongo_db='parsegram')


async def test_embedded_server_keeps_data_across_restarts(tmp_path: Path) -> None:
    first = Database(embedded_settings(tmp_path))
    assert await first.start(max_attempts=1)
    assert first.ready and first.last_error is None
    assert (tmp_path / 'db').is_dir() and (tmp_path / 'db.pid').is_file()
    await first.db.notes.insert_one({'_id': 'kept', 'text': 'survives a restart'})
    await first.stop()
    assert not (tmp_path / 'db.pid').exists()
    assert first.embedded is not None and not first.embedded.running

    second = Database(embedded_settings(tmp_path))
    try:
        assert await second.start(max_attempts=1)
        doc = await second.db.notes.find_one({'_id': 'kept'})
        assert doc is not None and doc['text'] == 'survives a restart'
    finally:
        await second.stop()


async def test_datetimes_come_back_timezone_aware(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    database = Database(embedded_settings(tmp_path))
    try:
        assert await database.start(max_attempts=1)
        await database.db.t.insert_one({'_id': 1, 'at': datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)})
        at = (await database.db.t.find_one({'_id': 1}))['at']
        assert at.tzinfo is not None and at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    finally:
        await database.stop()


@pytest.mark.parametrize('pid_file_lost', [False, True], ids=['pid-file', 'no-pid-file'])
async def test_server_left_by_a_crash_is_replaced(tmp_path: Path, pid_file_lost: bool) -> None:
    crashed = Database(embedded_settings(tmp_path))
    assert await crashed.start(max_attempts=1)
    await crashed.db.notes.insert_one({'_id': 'before-crash'})
    assert crashed.embedded is not None and crashed.embedded.process is not None
    leftover = crashed.embedded.process
    crashed.embedded.process = None  # the app "crashed": nobody stops this server, it keeps the storage lock
    if pid_file_lost:
        (tmp_path / 'db.pid').unlink()

    fresh = Database(embedded_settings(tmp_path))
    try:
        started = time.monotonic()
        assert await fresh.start(max_attempts=3), fresh.last_error
        assert time.monotonic() - started < 30
        assert leftover.wait(10) is not None  # the leftover was ended
        assert await fresh.db.notes.find_one({'_id': 'before-crash'}) is not None
    finally:
        await fresh.stop()
        await crashed.client.close()


async def test_killed_server_is_restarted_by_the_watch(tmp_path: Path) -> None:
    database = Database(embedded_settings(tmp_path))
    assert await database.start(max_attempts=1)
    # a journaled write is on disk when acknowledged, so it must survive the kill below
    await database.db.get_collection('notes', write_concern=WriteConcern(j=True)).insert_one({'_id': 'x'})
    watcher = asyncio.ensure_future(database.watch(interval=0.2))
    try:
        assert database.embedded is not None and database.embedded.process is not None
        os.kill(database.embedded.process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if database.ready and database.embedded.running and await database.ping():
                break
        assert database.ready and database.embedded.running
        assert await database.db.notes.find_one({'_id': 'x'}) is not None
    finally:
        watcher.cancel()
        await database.stop()


async def test_unreachable_server_is_reported_not_hung(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    settings = Settings(_env_file=None, data_dir=tmp_path, mongo_uri=f'mongodb://127.0.0.1:{port}/?directConnection=true')
    database = Database(settings)
    try:
        started = time.monotonic()
        assert await database.start(max_attempts=2) is False
        assert not database.ready
        assert database.last_error and str(port) in database.last_error
        started = time.monotonic()
        assert await database.ping() is False
        assert time.monotonic() - started < 2.5
        assert database.embedded is None
    finally:
        await database.stop()


async def test_start_keeps_retrying_until_the_server_appears(tmp_path: Path) -> None:
    """The app does not give up on a database that comes up later (e.g. a MongoDB container still booting)."""
    import subprocess
    import sys

    port = free_port()
    database = Database(Settings(_env_file=None, data_dir=tmp_path,
                                 mongo_uri=f'mongodb://127.0.0.1:{port}/?directConnection=true'))
    task = asyncio.ensure_future(database.start())
    await eventually(lambda: database.last_error, timeout=20)  # one failed attempt: the 3 s server selection
    assert not database.ready
    server = subprocess.Popen([sys.executable, '-m', 'secantus', '--host', '127.0.0.1', '--port', str(port),
                               '--storage-path', ':memory:'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert await asyncio.wait_for(task, 40) is True
        assert database.ready and database.last_error is None
    finally:
        await database.stop()
        server.terminate()
        server.wait(15)
