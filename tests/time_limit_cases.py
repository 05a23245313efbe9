"""Tests that never end, for tests/test_time_limits.py, which runs this file in a pytest of its own.

Not collected by a normal run (the name does not start with test_). Each case records the pids of the
processes the run has started so far (the database server, ...) in the file named by CASES_REPORT, so the
outer test can check that every one of them is gone afterwards.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

from tests.leftovers import MARKER, marked_processes


def report_started_processes() -> None:
    started = marked_processes(os.environ[MARKER])
    Path(os.environ['CASES_REPORT']).write_text(json.dumps(sorted(started)))


def report_once_blocked(thread_id: int) -> None:
    """Report only once that thread waits in threading.Event().wait(), so a stop always finds it there."""
    def watch() -> None:
        while (frame := sys._current_frames().get(thread_id)) is None or frame.f_code.co_name != 'wait':
            time.sleep(0.01)
        report_started_processes()
    threading.Thread(target=watch, name='report-once-blocked', daemon=True).start()


def test_a_thread_blocked_for_ever(mongo_uri, telegram_dc) -> None:
    report_once_blocked(threading.get_ident())
    threading.Event().wait()


async def test_an_await_that_never_returns(db, telegram_dc) -> None:
    client = await telegram_dc.signed_in_client('Waiting')
    try:
        await db.posts.insert_one({'text': 'written before the hang'})
        report_started_processes()
        await asyncio.Event().wait()
    finally:
        await client.disconnect()


def test_the_run_goes_on_after_a_hang(mongo_uri) -> None:
    assert mongo_uri.startswith('mongodb://')
