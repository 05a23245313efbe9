"""pytest plugin: a run that is stopped says what it was doing, and still tears its fixtures down.

- SIGTERM (what `scripts/test` sends when the whole run passes its time limit) is handled like Ctrl+C:
  pytest stops the test, runs every fixture's teardown (the database, the test DC, the browser) and exits 2.
- When a run is stopped by either signal, the summary names the tests that were running (in every xdist
  worker, whose test reports reach this process) and shows every thread's stack at the moment the signal came.
- The per-test limit itself comes from pytest-timeout (`timeout` in pyproject.toml), which shows the stacks of
  all threads; for an async test this adds the stack of every task of its event loop, since the main thread's
  stack then only shows the loop waiting.
"""
from __future__ import annotations

import asyncio
import signal
import sys
import threading
import traceback
from types import FrameType

import pytest

_interrupted: tuple[str, list[str], str] | None = None
_running: dict[str, None] = {}  # node ids of the tests under way, in this process or (under xdist) its workers


def _stacks() -> str:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    parts = []
    for ident, frame in sys._current_frames().items():
        parts.append(f'--- thread {names.get(ident, "?")} ({ident})\n{"".join(traceback.format_stack(frame))}')
    return '\n'.join(parts)


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    global _interrupted
    if _interrupted is None:  # keep the first moment: a second Ctrl+C lands in teardown
        _interrupted = (signal.Signals(signum).name, list(_running), _stacks())
    raise KeyboardInterrupt(f'stopped by {signal.Signals(signum).name}')


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_previous_handlers = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    if threading.current_thread() is threading.main_thread():
        config.stash[_previous_handlers] = {sig: signal.signal(sig, _on_stop_signal) for sig in _STOP_SIGNALS}


def pytest_runtest_logstart(nodeid: str, location: tuple) -> None:
    _running[nodeid] = None


def pytest_runtest_logfinish(nodeid: str, location: tuple) -> None:
    _running.pop(nodeid, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    for sig, previous in config.stash.get(_previous_handlers, {}).items():
        signal.signal(sig, previous)


@pytest.hookimpl(wrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings):
    result = yield
    timeout_handler = signal.getsignal(signal.SIGALRM)
    if callable(timeout_handler):
        def on_timeout(signum: int, frame: FrameType | None) -> None:
            _print_tasks()
            timeout_handler(signum, frame)

        signal.signal(signal.SIGALRM, on_timeout)
    return result


def _print_tasks() -> None:
    loop = asyncio._get_running_loop()
    if loop is None:
        return
    for task in asyncio.all_tasks(loop):
        print(f'~~~~~~~~ asyncio task {task.get_name()}: {task.get_coro()!r}')
        task.print_stack(file=sys.stdout)


def pytest_terminal_summary(terminalreporter) -> None:
    if _interrupted is None:
        return
    name, running, stacks = _interrupted
    terminalreporter.section(f'run stopped by {name}', sep='!')
    if running:
        which = 'this test was' if len(running) == 1 else 'these tests were'
        terminalreporter.write_line(f'The run was stopped while {which} running: {", ".join(running)}')
    else:
        terminalreporter.write_line('The run was stopped between tests.')
    terminalreporter.write_line('Threads at that moment:')
    terminalreporter.write_line(stacks)
