"""Every test run ends: a test that hangs fails at its time limit, and a stopped run cleans up after itself.

Each test runs tests/time_limit_cases.py in a pytest of its own, as `scripts/test` would, and checks what a
person would see: the hung tests named with their stacks, a non-zero exit, and no process left behind.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.leftovers import MARKER, marked_processes

ROOT = Path(__file__).resolve().parents[1]
CASES = 'tests/time_limit_cases.py'
LIMIT = 6  # seconds a test body may take in the inner run
OUTER_LIMIT = 120  # the inner run takes about 15 s; this only keeps a broken inner run from hanging this one


def start_cases(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str, Path]:
    run_id = uuid.uuid4().hex
    report = tmp_path / 'started.json'
    env = {name: value for name, value in os.environ.items() if not name.startswith('PYTEST_')}
    env.update({MARKER: run_id, 'CASES_REPORT': str(report)})
    process = subprocess.Popen(
        [sys.executable, '-m', 'pytest', CASES, '-q', '-p', 'no:cacheprovider', *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )
    return process, run_id, report


def finish(process: subprocess.Popen[str]) -> str:
    try:
        output, _ = process.communicate(timeout=OUTER_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f'the inner test run did not end within {OUTER_LIMIT} s:\n{output[-5000:]}')
    return output


def assert_nothing_left(run_id: str, report: Path, output: str) -> None:
    started = json.loads(report.read_text())
    if not os.environ.get('TEST_MONGO_URI'):
        assert started, f'the inner run should have started its database server:\n{output[-3000:]}'
    assert marked_processes(run_id) == {}, f'processes left behind:\n{output[-3000:]}'
    assert not [pid for pid in started if Path(f'/proc/{pid}').exists()]


def test_hung_tests_fail_at_the_limit_with_their_stacks_and_the_run_goes_on(tmp_path: Path) -> None:
    # Only the test bodies are timed: starting the inner run's database and DC on a busy machine can take longer
    # than the limit, and a fixture that is slow to start is not the hang this test is about.
    process, run_id, report = start_cases(tmp_path, '-o', f'timeout={LIMIT}', '-o', 'timeout_func_only=true')
    output = finish(process)

    assert process.returncode == 1, output[-5000:]
    assert '2 failed, 1 passed' in output, output[-5000:]
    for name in ('test_a_thread_blocked_for_ever', 'test_an_await_that_never_returns'):
        assert f'FAILED {CASES}::{name}' in output, output[-5000:]
    assert output.count(f'Timeout (>{LIMIT}.0s) from pytest-timeout') >= 2, output[-5000:]
    assert 'Stack of telegram-dc' in output, 'the stacks of the other threads are shown'
    assert 'await asyncio.Event().wait()' in output, "the async test's own stack shows where it waits"
    assert_nothing_left(run_id, report, output)


@pytest.mark.parametrize('stop, workers', [(signal.SIGTERM, 0), (signal.SIGINT, 0), (signal.SIGTERM, 2)],
                         ids=['SIGTERM', 'Ctrl+C', 'SIGTERM-to-2-workers'])
def test_a_stopped_run_names_the_running_test_and_tears_everything_down(tmp_path: Path, stop: int,
                                                                        workers: int) -> None:
    process, run_id, report = start_cases(tmp_path, '-o', 'timeout=300', '-k', 'blocked',
                                          *(('-n', str(workers)) if workers else ()))
    deadline = time.monotonic() + OUTER_LIMIT
    while not report.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the inner run is starting; the report appears once the case is hanging
    assert report.exists(), finish(process)[-5000:]
    os.killpg(process.pid, stop)  # as `timeout` in scripts/test and a terminal's Ctrl+C do: the whole group
    output = finish(process)

    assert process.returncode == 2, output[-5000:]  # pytest's "interrupted"
    assert f'run stopped by {signal.Signals(stop).name}' in output, output[-5000:]
    assert f'The run was stopped while this test was running: {CASES}::test_a_thread_blocked_for_ever' in output
    if not workers:  # a worker's own stacks stay in the worker; the run's summary names its test
        assert 'threading.Event().wait()' in output, 'the stack shows where the test was waiting'
    assert_nothing_left(run_id, report, output)
