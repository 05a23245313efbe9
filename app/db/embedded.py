"""The embedded database: SecantusDB run as a separate process (`python -m secantus`).

SecantusDB is GPL-2.0-only, so it is only ever launched as a program, never imported here.
A pid file next to the storage lets a new start find and end a server left behind by a crash
(its WiredTiger lock would otherwise block the new one).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from loguru import logger
from pymongo import AsyncMongoClient

from app.child_process import die_with_parent, end_processes, pid_alive

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class EmbeddedDbError(RuntimeError):
    pass


def free_port(host: str = '127.0.0.1') -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f'/proc/{pid}/cmdline').read_bytes()
    except OSError:
        return []
    return [part.decode(errors='replace') for part in raw.split(b'\0') if part]


class EmbeddedServer:
    def __init__(self, storage: Path, *, port: int | None = None, python: str = sys.executable) -> None:
        self.storage = storage
        self.port = port or free_port()
        self.python = python
        self.pid_file = storage.parent / f'{storage.name}.pid'
        self.log_file = storage.parent / f'{storage.name}.log'
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f'mongodb://127.0.0.1:{self.port}/?directConnection=true'

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _command(self) -> list[str]:
        return [self.python, '-m', 'secantus', '--host', '127.0.0.1', '--port', str(self.port),
                '--storage-path', str(self.storage), '--log-level', 'WARNING']

    # ------------------------------------------------------------ leftovers from a crash

    def _is_our_server(self, pid: int) -> bool:
        cmd = _cmdline(pid)
        if not cmd:
            return False
        joined = ' '.join(cmd)
        return 'secantus' in joined and str(self.storage) in cmd

    def _recorded(self) -> dict[str, int] | None:
        """The pid and port of a live server on this storage that the pid file names, if any."""
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            recorded = json.loads(self.pid_file.read_text())
            pid = int(recorded['pid'])
            if pid != os.getpid() and pid_alive(pid) and self._is_our_server(pid):
                return {'pid': pid, 'port': int(recorded['port'])}
        return None

    def running_elsewhere(self) -> str | None:
        """The address of a server another process (a running Parsegram) started on this storage, if any."""
        recorded = self._recorded()
        return f'mongodb://127.0.0.1:{recorded["port"]}/?directConnection=true' if recorded else None

    def _leftover_pids(self) -> set[int]:
        pids: set[int] = set()
        recorded = self._recorded()
        if recorded is not None:
            pids.add(recorded['pid'])
        proc = Path('/proc')
        if proc.is_dir():  # also catch a server whose pid file was lost
            for entry in proc.iterdir():
                if entry.name.isdigit() and int(entry.name) != os.getpid() and self._is_our_server(int(entry.name)):
                    pids.add(int(entry.name))
        if self.process is not None:
            pids.discard(self.process.pid)
        return pids

    def kill_leftovers(self) -> list[int]:
        """End servers on this storage that this process does not own. Returns their pids."""
        pids = self._leftover_pids()
        for pid in pids:
            logger.warning('Stopping a database server left over from an earlier run (pid {})', pid)
        end_processes(pids, STOP_TIMEOUT, alive=lambda pid: pid_alive(pid) and self._is_our_server(pid))
        self.pid_file.unlink(missing_ok=True)
        return sorted(pids)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the server and wait until it answers a ping; raise EmbeddedDbError with the reason if not."""
        if self.running:
            return
        self.storage.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.kill_leftovers)
        log = open(self.log_file, 'ab')  # noqa: SIM115 - handed to the child process
        try:
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.storage.parent, preexec_fn=die_with_parent(),
            )
        finally:
            log.close()
        self.pid_file.write_text(json.dumps({'pid': self.process.pid, 'port': self.port,
                                             'storage': str(self.storage)}))
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        logger.info('Embedded database listening on 127.0.0.1:{} (data in {})', self.port, self.storage)

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        client: AsyncMongoClient = AsyncMongoClient(self.uri, serverSelectionTimeoutMS=300, connectTimeoutMS=300)
        try:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise EmbeddedDbError(f'the embedded database exited at start: {self.last_log_line()}')
                try:
                    await client.admin.command('ping')
                    return
                except Exception:
                    if time.monotonic() > deadline:
                        raise EmbeddedDbError('the embedded database did not answer within '
                                              f'{START_TIMEOUT:.0f} s: {self.last_log_line()}') from None
                    await asyncio.sleep(0.2)
        finally:
            await client.close()

    def last_log_line(self) -> str:
        try:
            lines = [line for line in self.log_file.read_text(errors='replace').splitlines() if line.strip()]
        except OSError:
            return 'no log'
        return lines[-1].strip()[:300] if lines else 'no log'

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if process.poll() is None:
                logger.warning('Embedded database did not stop in {} s; killing it', STOP_TIMEOUT)
                process.kill()
                await asyncio.to_thread(process.wait)
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if int(json.loads(self.pid_file.read_text())['pid']) == process.pid:
                self.pid_file.unlink()
        logger.info('Embedded database stopped')
