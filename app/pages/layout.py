"""The shared page frame: header (navigation, language, dark mode; a menu on phones) and notices about missing
Telegram credentials or the database."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from nicegui import app, ui

from app.events import NotificationsChanged
from app.i18n import LANGUAGES, _, lazy, render
from app.pages.chrome import choose_language, dark_toggle, language_menu, page_style
from app.pages.live import Later, subscribe_while_open
from app.pages.login import log_out

if TYPE_CHECKING:
    from app.root import Root

NAV = (('channels', lazy('Channels'), '/dashboard/channels', 'campaign'),
       ('search', lazy('Search'), '/dashboard/search', 'search'),
       ('alerts', lazy('Alerts'), '/dashboard/alerts', 'notifications_active'),
       ('accounts', lazy('Accounts'), '/dashboard/accounts', 'person'),
       ('settings', lazy('Settings'), '/dashboard/settings', 'settings'))


def current_root() -> Root | None:
    return getattr(app.state, 'root', None)


def database_notice(root: Root) -> str | None:
    """What to tell the person about the database, or None while it is fine."""
    database = root.database
    if database.ready:
        return None
    if database.last_error is None:
        return _('The database is starting ({database}) — this page fills in once it is ready.',
                 database=database.description)
    return _('The database is not reachable ({database}): {error}. Parsegram keeps retrying; check MONGO_URI or '
             'the server.', database=database.description, error=database.last_error)


def _telegram_notice(root: Root) -> None:
    if root.settings.telegram_configured:
        return
    with ui.card().classes('w-full bg-amber-50 border border-amber-300 notice').props('flat') \
            .mark('telegram-credentials-missing'):
        with ui.row().classes('items-start no-wrap gap-3'):
            ui.icon('key', color='amber-9').classes('text-2xl')
            with ui.column().classes('gap-1 min-w-0'):
                ui.label(_('Telegram API credentials are missing')).classes('font-medium')
                ui.markdown(_('Log in at [my.telegram.org](https://my.telegram.org), open **API development tools** '
                              'and create an application. Then set `TELEGRAM_API_ID` and `TELEGRAM_API_HASH` '
                              '(environment or `.env`) and restart Parsegram.'))


def _demo_notice(root: Root) -> None:
    if not root.settings.demo:
        return
    with ui.card().classes('w-full bg-sky-50 border border-sky-300 notice').props('flat').mark('demo-notice'):
        with ui.row().classes('items-center no-wrap gap-3'):
            ui.icon('science', color='light-blue-9').classes('text-2xl')
            ui.label(_('Demo: these accounts, channels and posts come from a local demo server, not from Telegram. '
                       'Its data is emptied at every demo start.')).classes('min-w-0')


def _database_notice(root: Root) -> None:
    card = ui.card().classes('w-full bg-red-50 border border-red-300 notice').props('flat').mark('database-notice')
    with card, ui.row().classes('items-center no-wrap gap-3'):
        ui.icon('storage', color='red-8').classes('text-2xl')
        label = ui.label().classes('min-w-0')

    def refresh() -> None:
        text = database_notice(root)
        card.set_visibility(text is not None)
        if text is not None:
            label.set_text(text)

    refresh()
    ui.timer(1.0, refresh)


BELL_REFRESH_SECONDS = 30.0  # notifications made by other processes


def bell(root: Root, mark: str = 'bell') -> None:
    """The unread notifications count; opens the list. Redrawn when this process adds or reads notifications."""
    button = ui.button(icon='notifications', on_click=lambda: ui.navigate.to('/dashboard/notifications')) \
        .props('flat round color=white').mark(mark)
    button.tooltip(_('Notifications'))
    with button:
        badge = ui.badge('', color='red').props('floating').mark(f'{mark}-count')
    badge.set_visibility(False)

    async def refresh() -> None:
        if not root.database.ready:
            return
        try:
            count = await root.repos.alerts.unread_count()
        except Exception:  # the database went away: the notice says so, the bell waits
            return
        badge.set_text(str(count) if count < 100 else '99+')
        badge.set_visibility(count > 0)

    later = Later(0.2, refresh, 'bell refresh')
    subscribe_while_open(root, NotificationsChanged, lambda _: later.soon())
    ui.timer(BELL_REFRESH_SECONDS, refresh)
    ui.timer(0.01, refresh, once=True)


@contextmanager
def frame(title: str) -> Iterator[None]:
    root = current_root()
    ui.page_title(f'{title} · Parsegram')
    dark = page_style()
    with ui.header().classes('items-center justify-between px-4 py-1 bg-primary text-white no-wrap'):
        with ui.row().classes('items-center gap-6 no-wrap'):
            ui.link('Parsegram', '/dashboard/channels').classes('text-xl font-bold text-white no-underline')
            with ui.row().classes('gap-1 gt-sm no-wrap'):
                for key, name, path, icon in NAV:
                    ui.button(render(name), icon=icon, on_click=lambda p=path: ui.navigate.to(p)) \
                        .props('flat color=white no-caps').mark(f'nav-{key}')
        with ui.row().classes('items-center gap-1 no-wrap gt-sm'):
            if root is not None:
                bell(root)
            language_menu()
            dark_toggle(dark)
            ui.button(_('Log out'), icon='logout', on_click=log_out) \
                .props('flat color=white no-caps').mark('logout')
        with ui.row().classes('items-center gap-1 no-wrap lt-md'):
            if root is not None:
                bell(root, mark='bell-phone')
            dark_toggle(dark)
            with ui.button(icon='menu').props('flat round color=white').mark('nav-menu'):
                with ui.menu().mark('nav-menu-items'):
                    for key, name, path, icon in NAV:
                        with ui.menu_item(on_click=lambda p=path: ui.navigate.to(p)).mark(f'menu-{key}'):
                            with ui.row().classes('items-center gap-3 no-wrap'):
                                ui.icon(icon)
                                ui.label(render(name))
                    ui.separator()
                    for code, language_name in LANGUAGES.items():
                        with ui.menu_item(on_click=lambda c=code: choose_language(c)).mark(f'menu-language-{code}'):
                            with ui.row().classes('items-center gap-3 no-wrap'):
                                ui.icon('translate')
                                ui.label(language_name)
                    ui.separator()
                    with ui.menu_item(on_click=log_out).mark('menu-logout'):
                        with ui.row().classes('items-center gap-3 no-wrap'):
                            ui.icon('logout')
                            ui.label(_('Log out'))
    with ui.column().classes('w-full max-w-5xl mx-auto p-2 sm:p-4 gap-4'):
        if root is not None:
            _demo_notice(root)
            _telegram_notice(root)
            _database_notice(root)
        ui.label(title).classes('text-2xl font-semibold')
        yield
