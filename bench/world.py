"""What the Telegram benchmarks stand on: a SecantusDB subprocess on disk and the test DC in a thread, in a temporary
directory that goes with them."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from telethon.crypto import rsa

from bench.ingest import start_database
from tests.telegram_dc.pytest_plugin import DcHandle
from tests.telegram_dc.server import TelegramDC


@contextmanager
def dc_and_database(limits: str = 'realistic') -> Iterator[tuple[DcHandle, str, Path]]:
    """(the DC, the database's URI, the temporary directory); all stopped and removed on the way out."""
    data = Path(tempfile.mkdtemp(prefix='parsegram-bench-'))
    db_process, uri = start_database(data / 'db')
    server = TelegramDC(limits=limits).start_in_thread()
    try:
        rsa.add_key(server.public_key_pem.decode(), old=False)
        key = data / 'public_key.pem'
        key.write_bytes(server.public_key_pem)
        yield DcHandle(server, key), uri, data
    finally:
        server.stop_thread()
        db_process.terminate()
        db_process.wait(15)
        shutil.rmtree(data, ignore_errors=True)
