"""/dashboard/settings: API tokens (create — shown once —, list, revoke) and a summary of the set-up."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from loguru import logger
from nicegui import ui

from app.i18n import _, n_, render
from app.pages.layout import frame

if TYPE_CHECKING:
    from app.root import Root


def _when(value: datetime | None) -> str:
    return value.strftime('%Y-%m-%d %H:%M UTC') if value else '—'


def register(root: Root) -> None:
    @ui.page('/dashboard/settings')
    async def settings_page() -> None:
        with frame(_('Settings')):
            await _tokens_card(root)
            _system_card(root)


async def _tokens_card(root: Root) -> None:
    with ui.card().classes('w-full gap-3').props('flat bordered'):
        ui.label(_('API tokens')).classes('text-lg font-medium')
        ui.label(_('Programs use the JSON API under /api with the header “Authorization: Bearer <token>”. '
                   'A token is shown once when it is made; only its hash is kept.')).classes('text-grey-8')
        if root.settings.api_token:
            ui.label(_('API_TOKEN is also set in the environment and is accepted as well.')).classes('text-grey-8')

        @ui.refreshable
        async def token_list() -> None:
            if not root.database.ready:
                ui.label(_('The token list appears once the database is ready.')).classes('text-grey-7')
                return
            tokens = await root.api_tokens.list()
            active = [token for token in tokens if token.revoked_at is None]
            revoked = len(tokens) - len(active)
            if not active:
                ui.label(_('No tokens yet.')).classes('text-grey-7').mark('no-tokens')
            with ui.column().classes('w-full gap-1'):
                for token in active:
                    with ui.row().classes('w-full items-center gap-x-4 gap-y-0 py-1 border-b') \
                            .mark(f'token-{token.name}'):
                        ui.label(token.name).classes('font-medium w-40 truncate')
                        ui.label(f'{token.prefix}…').classes('font-mono text-grey-8 w-32')
                        ui.label(_('made {when}', when=_when(token.created_at))).classes('text-grey-7 text-sm')
                        ui.label(_('last used {when}', when=_when(token.last_used_at))) \
                            .classes('text-grey-7 text-sm')
                        ui.space()
                        ui.button(_('Revoke'), on_click=lambda t=token: confirm_revoke(t.id, t.name, t.prefix)) \
                            .props('flat color=negative no-caps').mark(f'revoke-{token.name}')
            if revoked:  # they no longer open anything: counted, not listed
                ui.label(n_('{n} revoked token is no longer listed.', '{n} revoked tokens are no longer listed.',
                            revoked)).classes('text-sm text-grey-7').mark('revoked-tokens')

        def confirm_revoke(token_id: str, name: str, prefix: str) -> None:
            with dialogs, ui.dialog() as dialog, ui.card():
                ui.label(_('Revoke the token “{name}” ({prefix}…)?', name=name, prefix=prefix)).classes('text-lg')
                ui.label(_('Programs that use it get 401 from then on; this cannot be undone.'))
                with ui.row().classes('w-full justify-end'):
                    ui.button(_('Cancel'), on_click=dialog.close).props('flat')

                    async def revoke() -> None:
                        dialog.close()
                        await root.api_tokens.revoke(token_id=token_id)
                        ui.notify(_('Token “{name}” revoked', name=name), type='positive')
                        new_token_box.clear()
                        token_list.refresh()
                    ui.button(_('Revoke'), on_click=revoke).props('color=negative').mark('confirm-revoke')
            dialog.on('hide', lambda: dialogs.remove(dialog))
            dialog.open()

        def copy(plain: str) -> None:
            ui.clipboard.write(plain)
            ui.notify(_('Token copied to the clipboard'), type='positive')

        async def create() -> None:
            name = (name_input.value or '').strip()
            if not name:
                ui.notify(_('Give the token a name, e.g. the program that will use it'), type='warning')
                return
            if not root.database.ready:
                ui.notify(_('The database is not ready yet'), type='warning')
                return
            try:
                record, plain = await root.api_tokens.create(name=name)
            except Exception:
                logger.exception('Creating an API token failed')
                ui.notify(_('Could not create the token; see the server log.'), type='negative')
                return
            name_input.set_value('')
            new_token_box.clear()
            with new_token_box, ui.card().classes('w-full pg-done').props('flat').mark('new-token-box'):
                ui.label(_('New token “{name}” — copy it now, it will not be shown again:', name=record.name))
                with ui.row().classes('items-center w-full no-wrap'):
                    ui.input(value=plain).props('readonly outlined dense').classes('font-mono grow') \
                        .mark('new-token')
                    ui.button(icon='content_copy', on_click=lambda: copy(plain)).props('flat') \
                        .tooltip(_('Copy')).mark('copy-token')
            token_list.refresh()

        with ui.row().classes('items-end gap-2'):
            name_input = ui.input(_('Name of the new token')).classes('w-72 max-w-full').mark('token-name') \
                .on('keydown.enter', create)
            ui.button(_('Create token'), icon='add', on_click=create).mark('create-token')
        new_token_box = ui.column().classes('w-full')
        dialogs = ui.element('div')
        await token_list()

        def refresh_when_ready() -> None:
            if root.database.ready and not getattr(refresh_when_ready, 'done', False):
                refresh_when_ready.done = True  # type: ignore[attr-defined]
                token_list.refresh()

        if not root.database.ready:
            ui.timer(1.0, refresh_when_ready)


def _system_card(root: Root) -> None:
    settings = root.settings
    with ui.card().classes('w-full gap-1').props('flat bordered'):
        ui.label(_('This installation')).classes('text-lg font-medium mb-1')
        rows = [
            (_('Database'), render(root.database.description)),
            (_('Database name'), settings.mongo_db),
            (_('Data folder'), str(settings.data_dir.resolve())),
            (_('Telegram API'), _('configured') if settings.telegram_configured else _('not configured')),
            (_('Dashboard password'), _('from ADMIN_PASSWORD') if root.admin_auth.from_environment
             else _('generated at first start (stored hashed)')),
        ]
        if settings.telegram_dc:
            rows.append((_('Telegram server'), f'{settings.telegram_dc} (DC {settings.telegram_dc_id or 2})'))
        for name, value in rows:
            with ui.row().classes('gap-x-4 gap-y-0'):
                ui.label(name).classes('w-44 text-grey-7')
                ui.label(value).classes('break-all')
