"""The shared page frame: header, navigation, and notices about missing Telegram credentials or the database."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from nicegui import app, ui

from app.pages.login import log_out

if TYPE_CHECKING:
    from app.root import Root

NAV = (('Channels', '/dashboard/channels', 'campaign'), ('Accounts', '/dashboard/accounts', 'person'),
       ('Settings', '/dashboard/settings', 'settings'))

TELEGRAM_HELP = ('Telegram API credentials are missing. Log in at https://my.telegram.org, open “API development '
                 'tools”, create an application, then set TELEGRAM_API_ID and TELEGRAM_API_HASH (environment or '
                 '.env) and restart Parsegram.')


def current_root() -> Root | None:
    return getattr(app.state, 'root', None)


def database_notice(root: Root) -> str | None:
    """What to tell the person about the database, or None while it is fine."""
    database = root.database
    if database.ready:
        return None
    if database.last_error is None:
        return f'The database is starting ({database.description}) — this page fills in once it is ready.'
    return (f'The database is not reachable ({database.description}): {database.last_error}. '
            'Parsegram keeps retrying; check MONGO_URI or the server.')


def _telegram_notice(root: Root) -> None:
    if root.settings.telegram_configured:
        return
    with ui.card().classes('w-full bg-amber-50 border border-amber-300').props('flat') \
            .mark('telegram-credentials-missing'):
        with ui.row().classes('items-start no-wrap gap-3'):
            ui.icon('key', color='amber-9').classes('text-2xl')
            with ui.column().classes('gap-1'):
                ui.label('Telegram API credentials are missing').classes('font-medium')
                ui.markdown('Log in at [my.telegram.org](https://my.telegram.org), open **API development tools** '
                            'and create an application. Then set `TELEGRAM_API_ID` and `TELEGRAM_API_HASH` '
                            '(environment or `.env`) and restart Parsegram.')


def _database_notice(root: Root) -> None:
    card = ui.card().classes('w-full bg-red-50 border border-red-300').props('flat').mark('database-notice')
    with card, ui.row().classes('items-center no-wrap gap-3'):
        ui.icon('storage', color='red-8').classes('text-2xl')
        label = ui.label()

    def refresh() -> None:
        text = database_notice(root)
        card.set_visibility(text is not None)
        if text is not None:
            label.set_text(text)

    refresh()
    ui.timer(1.0, refresh)


@contextmanager
def frame(title: str) -> Iterator[None]:
    root = current_root()
    ui.page_title(f'{title} · Parsegram')
    ui.colors(primary='#2f6fb3')
    with ui.header().classes('items-center justify-between px-4 py-2 bg-primary text-white'):
        with ui.row().classes('items-center gap-6'):
            ui.link('Parsegram', '/dashboard/channels').classes('text-xl font-bold text-white no-underline')
            with ui.row().classes('gap-1'):
                for name, path, icon in NAV:
                    ui.button(name, icon=icon, on_click=lambda p=path: ui.navigate.to(p)) \
                        .props('flat color=white no-caps').mark(f'nav-{name.lower()}')
        ui.button('Log out', icon='logout', on_click=log_out) \
            .props('flat color=white no-caps').mark('logout')
    with ui.column().classes('w-full max-w-5xl mx-auto p-4 gap-4'):
        if root is not None:
            _telegram_notice(root)
            _database_notice(root)
        ui.label(title).classes('text-2xl font-semibold')
        yield
