"""`parsegram --demo`: Parsegram wired to a local Telegram test server with a demo world, no account needed.

The test server (tests/telegram_dc in a source checkout) runs as a child process with realistic limits and posts now
and then; Parsegram gets its own data directory, wiped at every demo start, so demo data never mixes with real data.
Once started, a demo account is logged in and the demo channels are added, so the first screen fills with posts.
"""
from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from app.child_process import die_with_parent
from app.config import Settings, load_settings
from app.mtproto.errors import LoginState

SOURCE = Path(__file__).resolve().parents[1]
MARKER = '.parsegram-demo'
START_TIMEOUT = 60.0
PUBLISH_EVERY = 20.0  # seconds between the demo server's new posts


@dataclass
class DemoServer:
    process: subprocess.Popen[str]
    values: dict[str, str]  # the TELEGRAM_* settings it printed
    world: dict[str, Any]  # the demo user and channels

    def stop(self) -> None:
        """SIGTERM, up to 5 s to finish, then SIGKILL; waits on the child itself, so it is reaped at once."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def demo_data_dir(data_dir: Path) -> Path:
    """Next to the normal data directory (`data` → `data-demo`), emptied at every demo start."""
    demo = data_dir.resolve().with_name(f'{data_dir.resolve().name}-demo')
    if demo.exists() and not (demo / MARKER).exists():
        raise SystemExit(f'{demo} exists and is not a demo directory; move it away or set DATA_DIR elsewhere.')
    shutil.rmtree(demo, ignore_errors=True)
    demo.mkdir(parents=True, mode=0o700)
    (demo / MARKER).write_text('Parsegram demo data: emptied at every `parsegram --demo` start.\n')
    return demo


def start_demo_server(data_dir: Path, publish_every: float = PUBLISH_EVERY) -> DemoServer:
    """Start the test server with its demo world; read what it prints (fails clearly, never hangs)."""
    if not (SOURCE / 'tests' / 'telegram_dc' / 'server.py').is_file():
        raise SystemExit('The demo needs a source checkout of Parsegram: its Telegram test server lives in '
                         'tests/telegram_dc. Clone the repository and run `bash scripts/run --demo`.')
    command = [sys.executable, '-m', 'tests.telegram_dc', '--demo', '--limits', 'realistic',
               '--publish-every', str(publish_every), '--public-key-out', str(data_dir / 'telegram_dc_public.pem')]
    # Its own session: Ctrl+C in the terminal reaches Parsegram alone, which logs its clients out of the server
    # first and then stops it (otherwise they spend the shutdown reconnecting); it still dies with Parsegram.
    process = subprocess.Popen(command, cwd=SOURCE, stdout=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=die_with_parent())  # noqa: PLW1509 - sets only the parent-death signal
    watchdog = threading.Timer(START_TIMEOUT, process.kill)
    watchdog.start()
    values: dict[str, str] = {}
    world: dict[str, Any] = {}
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith('Demo:'):
                world = json.loads(line.split(':', 1)[1])
            elif '=' in line and line.startswith('TELEGRAM_'):
                name, value = line.strip().split('=', 1)
                values[name] = value
            if 'TELEGRAM_PUBLIC_KEY' in values:
                break
    finally:
        watchdog.cancel()
    if 'TELEGRAM_PUBLIC_KEY' not in values or not world:
        process.kill()
        raise SystemExit(f'The demo Telegram server did not start within {START_TIMEOUT:.0f} s; its errors are above.')
    process.stdout.close()  # it prints nothing more; its log goes to stderr
    return DemoServer(process=process, values=values, world=world)


def demo_settings(base: Settings, server: DemoServer, data_dir: Path) -> Settings:
    """The settings of a demo run: the test server, the demo data directory, the embedded database, a fresh
    password. MONGO_URI is ignored on purpose: a demo never writes into a real database."""
    return load_settings(
        demo=True, data_dir=data_dir, mongo_uri=None, secret_key=None,
        admin_password=secrets.token_urlsafe(12), telegram_api_id=1, telegram_api_hash='parsegram-demo',
        telegram_dc=server.values['TELEGRAM_DC'], telegram_dc_id=int(server.values['TELEGRAM_DC_ID']),
        telegram_public_key=Path(server.values['TELEGRAM_PUBLIC_KEY']), host=base.host, port=base.port)


def demo_refs(world: dict[str, Any]) -> list[str]:
    """The demo channels to add: those with posts and a public username."""
    return [f'@{channel["username"]}' for channel in world['channels'] if channel.get('username') and channel['posts']]


async def sign_in_and_add_channels(root: Any, world: dict[str, Any]) -> None:
    """Log the demo user in as a person would (phone, code, 2FA password), then add the demo channels."""
    if not await root.wait_started(timeout=120):
        logger.warning('Demo: Parsegram did not start; the demo account was not logged in')
        return
    user, refs = world['user'], demo_refs(world)
    try:
        step = await root.logins.start(user['phone'])
        if step.status == LoginState.CODE_SENT:
            step = await root.logins.verify(step.account_id, user['code'])
        if step.status == LoginState.PASSWORD_REQUIRED:
            step = await root.logins.password(step.account_id, user['password'])
        if step.status != LoginState.AUTHORIZED:
            logger.warning('Demo: the demo login ended as {} ({})', step.status, step.message)
            return
        await root.add_queue.submit('\n'.join(refs), account_id=step.account_id)
    except Exception:
        logger.exception('Demo: logging in the demo account failed; log in on the Accounts page with the demo '
                         'phone printed at start')
        return
    logger.info('Demo: account {} logged in; {} channels queued', user['phone'], len(refs))


def announce(settings: Settings, world: dict[str, Any]) -> None:
    address = f'http://{settings.host}:{settings.port}'
    user = world['user']
    print('\n'.join([
        '',
        'Parsegram demo: a local test server plays Telegram; nothing here talks to Telegram.',
        f'  Dashboard: {address}',
        f'  Password:  {settings.admin_password}',
        f'  Demo data: {settings.data_dir} (emptied at every demo start)',
        f'  Log in more demo accounts with phone {user["phone"]}, code {user["code"]}, password {user["password"]}.',
        '  Ctrl+C stops Parsegram and the demo server.',
        '',
    ]), flush=True)
