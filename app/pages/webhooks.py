"""/dashboard/webhooks: webhooks made (the secret shown once), tested, paused, deleted; their last deliveries,
each of which can be sent again."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.i18n import _, n_, render
from app.mtproto.errors import ServiceError
from app.pages.alerts import channel_options
from app.pages.layout import frame
from app.pages.relative_time import RelativeTime
from app.webhooks.event_log import EVENT_TYPES

if TYPE_CHECKING:
    from app.root import Root
    from app.webhooks.repo import Delivery, Webhook

STATUS_COLORS = {'delivered': 'positive', 'retrying': 'warning', 'failed': 'negative', 'refused': 'negative'}


def register(root: Root) -> None:
    @ui.page('/dashboard/webhooks')
    async def webhooks_page() -> None:
        with frame(_('Webhooks')):
            ui.label(_('Other programs get each event as a signed POST the moment it happens, in order, and again '
                       'until they answer 2xx. The README shows how to check the signature.')).classes('text-grey-8')
            if not root.database.ready:
                ui.label(_('Webhooks appear once the database is ready.')).classes('text-grey-7')
                return
            channels = await channel_options(root)
            dialogs = ui.element('div')

            @ui.refreshable
            async def hooks() -> None:
                found = await root.repos.webhooks.list()
                if not found:
                    ui.label(_('No webhooks yet.')).classes('text-grey-7').mark('no-webhooks')
                    return
                with ui.column().classes('w-full gap-0').mark('webhook-list'):
                    for hook in found:
                        _hook_row(root, hook, hooks, dialogs)

            await _new_hook_card(root, channels, hooks)
            await hooks()
            ui.timer(5.0, hooks.refresh)  # delivery counts and failures move on their own


async def _new_hook_card(root: Root, channels: dict[int, str], hooks: Any) -> None:
    with ui.card().classes('w-full gap-2').props('flat bordered').mark('new-webhook'):
        ui.label(_('New webhook')).classes('text-lg font-medium')
        url = ui.input(_('URL'), placeholder='https://example.org/parsegram').classes('w-full').mark('webhook-url')
        events = ui.select(list(EVENT_TYPES), multiple=True, value=['post.created'], label=_('Events')) \
            .classes('w-full').props('use-chips').mark('webhook-events')
        with ui.row().classes('w-full gap-2'):
            chosen = ui.select(channels, multiple=True, with_input=True, label=_('Only these channels')) \
                .classes('grow min-w-64').props('use-chips clearable').mark('webhook-channels')
            tags = ui.input(_('Only channels tagged (comma-separated)')).classes('w-64').mark('webhook-tags')
        secret_box = ui.column().classes('w-full')

        async def create() -> None:
            try:
                hook, secret = await root.webhook_service.create(
                    url=url.value or '', events=list(events.value or []), channel_ids=list(chosen.value or []),
                    tags=[t.strip() for t in (tags.value or '').split(',') if t.strip()])
            except ServiceError as error:
                ui.notify(render(error.message), type='warning', multi_line=True)
                return
            url.set_value('')
            secret_box.clear()
            with secret_box, ui.card().classes('w-full pg-done').props('flat').mark('webhook-secret-box'):
                ui.label(_('Webhook made. Its signing secret — copy it now, it will not be shown again:'))
                with ui.row().classes('items-center w-full no-wrap'):
                    ui.input(value=secret).props('readonly outlined dense').classes('font-mono grow') \
                        .mark('webhook-secret')
                    ui.button(icon='content_copy', on_click=lambda: ui.clipboard.write(secret)).props('flat') \
                        .tooltip(_('Copy'))
            hooks.refresh()
        ui.button(_('Make webhook'), icon='add', on_click=create).mark('create-webhook')


def _hook_row(root: Root, hook: Webhook, hooks: Any, dialogs: Any) -> None:
    service = root.webhook_service
    with ui.row().classes('w-full items-center gap-x-4 gap-y-1 py-2 border-b').mark(f'webhook-{hook.id}'):
        with ui.column().classes('gap-0 min-w-0 grow'):
            ui.label(hook.url).classes('font-mono text-sm break-all font-medium')
            ui.label(', '.join(hook.events)).classes('text-sm text-grey-8')
            state = [n_('{n} event delivered', '{n} events delivered', hook.delivered)]
            if hook.paused:
                state.insert(0, hook.paused_reason or _('paused'))
            elif hook.attempts:
                state.insert(0, _('failing: {error}, {n} attempts so far', error=hook.last_error or '?',
                                  n=hook.attempts))
            ui.label(' · '.join(state)).classes('text-sm ' + ('text-negative' if hook.attempts or hook.paused_reason
                                                               else 'text-grey-7')).mark('webhook-state')

        async def test() -> None:
            delivery = await service.test(hook.id)
            if delivery.status == 'delivered':
                ui.notify(_('Test event delivered: HTTP {status} in {ms} ms', status=delivery.status_code,
                            ms=delivery.duration_ms), type='positive')
            else:
                ui.notify(_('Test event not delivered: {error}', error=delivery.error or delivery.status),
                          type='negative', multi_line=True)

        async def pause(paused: bool) -> None:
            await service.update(hook.id, paused=paused)
            hooks.refresh()

        async def delete() -> None:
            await service.delete(hook.id)
            ui.notify(_('Webhook deleted'))
            hooks.refresh()
        ui.button(_('Send a test event'), on_click=test).props('flat no-caps').mark('webhook-test')
        ui.button(_('Deliveries'), on_click=lambda: _deliveries_dialog(root, hook, dialogs)) \
            .props('flat no-caps').mark('webhook-deliveries')
        ui.switch(_('on'), value=not hook.paused, on_change=lambda e: pause(not e.value)).mark('webhook-on')
        ui.button(icon='delete', on_click=delete).props('flat round color=negative').tooltip(_('Delete')) \
            .mark('webhook-delete')


async def _deliveries_dialog(root: Root, hook: Webhook, dialogs: Any) -> None:
    with dialogs, ui.dialog() as dialog, ui.card().classes('w-full max-w-3xl gap-2').mark('deliveries-dialog'):
        ui.label(_('Last deliveries to {url}', url=hook.url)).classes('text-lg font-medium break-all')

        @ui.refreshable
        async def rows() -> None:
            found = await root.repos.webhooks.deliveries_of(hook.id)
            if not found:
                ui.label(_('Nothing delivered yet.')).classes('text-grey-7').mark('no-deliveries')
            for delivery in found:
                _delivery_row(root, hook, delivery, rows)
        await rows()
        ui.button(_('Close'), on_click=dialog.close).props('flat')
    dialog.on('hide', lambda: dialogs.remove(dialog))
    dialog.open()


def _delivery_row(root: Root, hook: Webhook, delivery: Delivery, rows: Any) -> None:
    with ui.row().classes('w-full items-center gap-x-3 gap-y-0 py-1 border-b no-wrap').mark('delivery'):
        ui.badge(render(_status_name(delivery.status)), color=STATUS_COLORS.get(delivery.status, 'grey'))
        with ui.column().classes('gap-0 min-w-0 grow'):
            ui.label(f'{delivery.event_type} · {delivery.event_id}').classes('font-mono text-sm')
            answer = f'HTTP {delivery.status_code}' if delivery.status_code else (delivery.error or '')
            timing = f' · {delivery.duration_ms} ms' if delivery.duration_ms is not None else ''
            attempts = n_('{n} attempt', '{n} attempts', delivery.attempts)
            ui.label(f'{answer}{timing} · {attempts}').classes('text-xs text-grey-7 break-all')
        RelativeTime(delivery.at).classes('text-xs text-grey-7')

        async def replay() -> None:
            try:
                again = await root.webhook_service.replay(hook.id, delivery.id)
            except ServiceError as error:
                ui.notify(render(error.message), type='warning')
                return
            ui.notify(_('Sent again: {status}', status=render(_status_name(again.status))),
                      type='positive' if again.status == 'delivered' else 'negative')
            rows.refresh()
        ui.button(icon='replay', on_click=replay).props('flat round dense').tooltip(_('Send again')) \
            .mark('delivery-replay')


def _status_name(status: str) -> str:
    names = {'delivered': _('delivered'), 'retrying': _('retrying'), 'failed': _('failed'), 'refused': _('refused')}
    return names.get(status, status)
