"""Wiring only: settings → logging → the composition root → API and pages → start-up/shut-down → ui.run."""
from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from nicegui import app, background_tasks, helpers, ui
from nicegui.storage import Storage

from app import demo
from app.api import register_api
from app.api.guards import install_request_guards
from app.config import Settings, load_settings, protect_data_dir, resolve_secret_key
from app.crypto import derive_key
from app.logging import setup_logging
from app.pages import register_pages
from app.root import build_root


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options: a bounded shutdown, and X-Forwarded-For believed only from the proxies named in
    TRUSTED_PROXIES (uvicorn believes 127.0.0.1 by default, so anyone on the machine could pick an address)."""
    proxies = [address.strip() for address in settings.trusted_proxies.split(',') if address.strip()]
    return {'timeout_graceful_shutdown': settings.shutdown_grace_seconds, 'proxy_headers': bool(proxies),
            'forwarded_allow_ips': proxies or ''}

# How long a page waits for its browser to come back. NiceGUI's default of 3 s gives the browser 2 s to answer a
# ping: a phone on a weak network, or a host busy for a moment, misses that, and the page is drawn anew. 15 s
# allows 6 s for an answer and keeps the page as it was through such a gap.
RECONNECT_SECONDS = 15.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='parsegram', description='A self-hosted Telegram channel parser. '
                                     'Settings come from the environment or .env (see the README).')
    parser.add_argument('--demo', action='store_true', help='run against a local demo server instead of Telegram: '
                        'a demo account logged in, demo channels filling with posts, its own data directory')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    check = commands.add_parser('verify', help="recheck a channel's stored history against its hash chains; exits "
                                'with 0 when it matches, 1 naming the first post that does not')
    check.add_argument('channel', help='the channel id (as listed) or @username')
    commands.add_parser('reindex', help='rebuild the search index from the database: a running server rebuilds '
                        'its own (progress on its Search page); otherwise it is rebuilt here')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    if argv is None and helpers.is_pytest():  # NiceGUI's test fixtures run this file with pytest's arguments
        argv = []
    args = parse_args(argv)
    if args.command == 'verify':
        from app.cli import verify
        raise SystemExit(asyncio.run(verify(load_settings(), args.channel)))
    if args.command == 'reindex':
        from app.cli import reindex
        raise SystemExit(asyncio.run(reindex(load_settings())))
    os.umask(0o077)  # sessions, keys and the embedded database under DATA_DIR are this user's alone
    settings = load_settings()
    server = None
    if args.demo:
        data_dir = demo.demo_data_dir(settings.data_dir)
        server = demo.start_demo_server(data_dir)
        settings = demo.demo_settings(settings, server, data_dir)
    protect_data_dir(settings.data_dir)
    setup_logging(settings.log_level)
    root = build_root(settings)
    register_api(app, root)
    register_pages(root)
    install_request_guards(app, body_limit=settings.max_body_bytes)
    app.on_startup(root.launch)
    app.on_shutdown(root.stop)
    if server is not None:
        app.on_startup(lambda: background_tasks.create(demo.sign_in_and_add_channels(root, server.world),
                                                        name='demo sign-in'))
        demo.announce(settings, server.world)
    storage_secret = derive_key(resolve_secret_key(settings), b'browser-storage').hex()
    if 'NICEGUI_STORAGE_PATH' not in os.environ:  # dashboard sessions live with the rest of the local state
        Storage.path = (settings.data_dir / 'sessions').resolve()
    try:
        ui.run(host=settings.host, port=settings.port, title='Parsegram', storage_secret=storage_secret,
               reload=False, show=False, favicon='📨', uvicorn_logging_level='warning', log_config=None,
               show_welcome_message=True, fastapi_docs=True,  # title and description: app.api.openapi
               reconnect_timeout=RECONNECT_SECONDS, **server_options(settings))
    except KeyboardInterrupt:  # Ctrl+C: the server has already shut down cleanly
        pass
    finally:  # after Parsegram's own shutdown: its clients leave the demo server before the server goes
        if server is not None:
            server.stop()


if __name__ in {'__main__', '__mp_main__'}:
    main()
