"""/dashboard/channels: the channel list. Until channels exist, it explains the next step."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from app.pages.layout import frame

if TYPE_CHECKING:
    from app.services import Services


def empty_state() -> None:
    with ui.card().classes('w-full items-center text-center p-8 gap-3').props('flat bordered').mark('empty-state'):
        ui.icon('campaign', color='grey-6').classes('text-6xl')
        ui.label('No channels yet').classes('text-xl font-medium')
        ui.label('Parsegram reads channels through a Telegram account. First add an account on the Accounts '
                 'page, then come back here and add a channel by pasting its link (t.me/name, @name or an '
                 'invite link).').classes('text-grey-8 max-w-xl')
        ui.button('Add an account', icon='person_add', on_click=lambda: ui.navigate.to('/dashboard/accounts'))


def register(services: Services) -> None:
    @ui.page('/dashboard/channels')
    def channels_page() -> None:
        with frame('Channels'):
            empty_state()
