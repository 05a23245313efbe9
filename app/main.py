"""Wiring only: settings → logging → services → API and pages → start-up/shut-down → ui.run."""
from __future__ import annotations

import os

from nicegui import app, ui
from nicegui.storage import Storage

from app.api import register_api
from app.config import Settings, load_settings, resolve_secret_key
from app.crypto import SecretBox, derive_key
from app.db.client import Database
from app.db.repos import Repos
from app.logging import setup_logging
from app.mtproto.accounts import AccountManager, process_owner_id
from app.mtproto.add_queue import AddQueue
from app.mtproto.channels import ChannelService
from app.mtproto.limits import RequestLimiter
from app.mtproto.login import LoginService
from app.mtproto.sync import SyncService
from app.pages import register_pages
from app.services import Services


def build_services(settings: Settings) -> Services:
    database = Database(settings)
    services = Services(
        settings=settings,
        database=database,
        repos=Repos.create(database.db),
        secret_box=SecretBox(resolve_secret_key(settings)),
    )
    services.accounts = AccountManager(settings=settings, repo=services.repos.accounts,
                                       secret_box=services.secret_box, owner_id=process_owner_id())
    services.logins = LoginService(settings=settings, accounts=services.accounts)
    services.components.append(services.accounts)
    services.channels = ChannelService(repos=services.repos, accounts=services.accounts,
                                       limiter=RequestLimiter.from_settings(settings))
    services.sync = SyncService(repos=services.repos, channels=services.channels, accounts=services.accounts,
                                owner_id=services.accounts.owner_id)
    services.add_queue = AddQueue(repos=services.repos, channels=services.channels, accounts=services.accounts)
    services.components.extend([services.channels, services.sync, services.add_queue])
    return services


def main() -> None:
    settings = load_settings()
    setup_logging(settings.log_level)
    services = build_services(settings)
    register_api(app, services)
    register_pages(services)
    app.on_startup(services.launch)
    app.on_shutdown(services.stop)
    storage_secret = derive_key(resolve_secret_key(settings), b'browser-storage').hex()
    if 'NICEGUI_STORAGE_PATH' not in os.environ:  # dashboard sessions live with the rest of the local state
        Storage.path = (settings.data_dir / 'sessions').resolve()
    try:
        ui.run(host=settings.host, port=settings.port, title='Parsegram', storage_secret=storage_secret,
               reload=False, show=False, favicon='📨', uvicorn_logging_level='warning', log_config=None,
               show_welcome_message=True)
    except KeyboardInterrupt:  # Ctrl+C: the server has already shut down cleanly
        pass


if __name__ in {'__main__', '__mp_main__'}:
    main()
