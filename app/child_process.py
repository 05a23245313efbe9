"""Child processes that end with the process that started them, even when it is killed outright."""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, Collection

PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    # Resolved once in the parent: between fork and exec a child of a threaded process must not load libraries.
    if sys.platform != 'linux':
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` that asks Linux to send `sig` to the child when its parent dies; None elsewhere."""
    if _prctl is None:
        return None
    prctl = _prctl

    def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
        prctl(PR_SET_PDEATHSIG, sig)

    return preexec


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_processes(pids: Collection[int], grace: float, alive: Callable[[int], bool] = pid_alive) -> None:
    """SIGTERM each process, wait up to `grace` s for them to go, then SIGKILL those that `alive` still finds."""
    for pid in pids:
        _send(pid, signal.SIGTERM)
    left = set(pids)
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        left = {pid for pid in left if alive(pid)}
        time.sleep(0.1)
    for pid in left:
        _send(pid, signal.SIGKILL)


def _send(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)
