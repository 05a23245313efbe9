"""/login and /logout. Repeated wrong passwords are slowed down per client address."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi.responses import RedirectResponse
from loguru import logger
from nicegui import app, ui

from app.auth import AuthUnavailable
from app.i18n import _
from app.pages.chrome import dark_toggle, language_menu, page_style

if TYPE_CHECKING:
    from app.root import Root

HOME = '/dashboard/channels'


def safe_target(target: str | None) -> str:
    """Only a path on this site: never send the browser to another host after login.

    Browsers read a backslash as a slash and drop tabs and newlines, so `/\\evil.example` is `//evil.example`.
    """
    if not target or '\\' in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith('/') or target.startswith('//') \
            or parts.path.startswith('/login'):
        return HOME
    return target


def client_key() -> str:
    request = ui.context.client.request
    return request.client.host if request is not None and request.client is not None else 'unknown'


def register(root: Root) -> None:
    @ui.page('/login')
    def login_page(redirect_to: str = HOME) -> RedirectResponse | None:
        target = safe_target(redirect_to)
        if app.storage.user.get('authenticated', False):
            return RedirectResponse(target)
        key = client_key()

        async def try_login() -> None:
            wait = root.login_throttle.retry_after(key)
            if wait > 0:
                message.set_text(_('Too many wrong passwords. Try again in {seconds} s.', seconds=math.ceil(wait)))
                return
            button.disable()
            try:
                ok = await root.admin_auth.verify(password.value or '')
            except AuthUnavailable:
                message.set_text(_('The database is still starting, so the password cannot be checked yet. '
                                   'Try again in a moment.'))
                return
            finally:
                button.enable()
            if not ok:
                delay = root.login_throttle.failed(key)
                logger.warning('Wrong dashboard password from {}', key)
                password.set_value('')
                message.set_text(_('Wrong password. Wait {seconds} s before the next try.', seconds=math.ceil(delay))
                                 if delay else _('Wrong password.'))
                return
            root.login_throttle.succeeded(key)
            app.storage.user.update(authenticated=True)
            logger.info('Dashboard login from {}', key)
            ui.navigate.to(target)

        ui.page_title(_('Log in') + ' · Parsegram')
        dark = page_style()
        with ui.row().classes('absolute-top-right p-2 gap-1'):
            language_menu(flat_white=False)
            dark_toggle(dark, flat_white=False)
        with ui.card().classes('absolute-center w-96 max-w-[92vw] p-6 gap-3'):
            ui.label('Parsegram').classes('text-2xl font-bold')
            ui.label(_('Log in to the dashboard')).classes('text-grey-7')
            password = ui.input(_('Password'), password=True, password_toggle_button=True) \
                .classes('w-full').props('autofocus').mark('password').on('keydown.enter', try_login)
            button = ui.button(_('Log in'), on_click=try_login).classes('w-full').mark('login')
            message = ui.label('').classes('text-negative').mark('login-message')
            if not root.admin_auth.from_environment:
                ui.label(_('First start? The generated password was printed once in the console where Parsegram '
                           'was started. Set ADMIN_PASSWORD to choose your own.')).classes('text-xs text-grey-7')
        return None

    @app.post('/logout', include_in_schema=False)
    def logout_form() -> RedirectResponse:
        """For a form without the dashboard's script; a GET cannot log anyone out (any page could link to it), and
        the session cookie is SameSite=Lax, so another site's form arrives without it."""
        app.storage.user.clear()
        return RedirectResponse('/login', status_code=303)


def log_out() -> None:
    """The dashboard's Log out button: over the page's own connection, never a link another site could reuse."""
    app.storage.user.clear()
    ui.navigate.to('/login')
