"""/dashboard/notifications: what alert rules matched, and account or job trouble, newest first."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from app.events import NotificationsChanged
from app.i18n import _
from app.pages.layout import frame
from app.pages.live import Later, subscribe_while_open
from app.pages.relative_time import RelativeTime

if TYPE_CHECKING:
    from app.alerts.repo import Notification
    from app.root import Root

SHOWN = 100
ICONS = {'alert': 'notifications_active', 'account': 'person_off', 'job': 'error_outline'}


def register(root: Root) -> None:
    @ui.page('/dashboard/notifications')
    async def notifications_page() -> None:
        with frame(_('Notifications')):
            with ui.row().classes('w-full items-center gap-2'):
                ui.label(_('Matches of your alert rules, and accounts or jobs that need you.')).classes('text-grey-8')
                ui.space()
                ui.button(_('Alert rules'), icon='tune', on_click=lambda: ui.navigate.to('/dashboard/alerts')) \
                    .props('flat no-caps')
                ui.button(_('Mark all as read'), icon='done_all', on_click=lambda: mark_read(None)) \
                    .props('outline no-caps').mark('mark-all-read')

            @ui.refreshable
            async def items() -> None:
                if not root.database.ready:
                    ui.label(_('The list appears once the database is ready.')).classes('text-grey-7')
                    return
                found = await root.repos.alerts.notifications_page(limit=SHOWN)
                if not found:
                    with ui.column().classes('w-full items-center py-8 gap-2').mark('no-notifications'):
                        ui.icon('notifications_none').classes('text-5xl text-grey-5')
                        ui.label(_('No notifications yet. Make an alert rule to hear about the posts you care '
                                   'about.')).classes('text-grey-7 text-center')
                    return
                with ui.column().classes('w-full gap-0').mark('notification-list'):
                    for item in found:
                        _item(item, mark_read)

            async def mark_read(ids: list[str] | None) -> None:
                if await root.repos.alerts.mark_read(ids):
                    root.events.publish(NotificationsChanged())
                items.refresh()

            later = Later(0.2, items.refresh, 'notifications refresh')
            subscribe_while_open(root, NotificationsChanged, lambda _: later.soon())
            await items()


def _item(item: Notification, mark_read) -> None:
    weight = 'font-medium' if not item.read else ''
    with ui.row().classes('w-full items-start no-wrap gap-3 py-2 border-b').mark(
            f'notification-{"unread" if not item.read else "read"}'):
        ui.icon(ICONS.get(item.kind, 'info'), color='primary' if not item.read else 'grey-6').classes('text-xl mt-1')
        with ui.column().classes('gap-0 min-w-0 grow'):
            with ui.row().classes('items-baseline gap-2'):
                ui.label(item.title).classes(weight)
                RelativeTime(item.at).classes('text-xs text-grey-7')
            if item.text:
                ui.label(item.text).classes('text-grey-9 break-words')
            with ui.row().classes('gap-3 text-sm'):
                if item.path:
                    ui.link(_('open in Parsegram'), item.path).mark('notification-open')
                if item.link:
                    ui.link(_('open on t.me'), item.link, new_tab=True)
        if not item.read:
            ui.button(icon='done', on_click=lambda i=item.id: mark_read([i])).props('flat round dense') \
                .tooltip(_('Mark as read')).mark('mark-read')
