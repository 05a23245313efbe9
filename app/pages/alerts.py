"""/dashboard/alerts: alert rules — saved searches that notify — made, paused and deleted."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.i18n import _, n_, render
from app.mtproto.errors import ServiceError
from app.pages.layout import frame

if TYPE_CHECKING:
    from app.alerts.repo import AlertRule
    from app.root import Root


async def channel_options(root: Root) -> dict[int, str]:
    docs = await root.repos.channels.collection.find({}, {'title': 1, 'username': 1}).sort('title', 1).to_list()
    return {doc['_id']: doc.get('title') or (f'@{doc["username"]}' if doc.get('username') else str(doc['_id']))
            for doc in docs}


def register(root: Root) -> None:
    @ui.page('/dashboard/alerts')
    async def alerts_page() -> None:
        with frame(_('Alerts')):
            with ui.row().classes('w-full items-center gap-2'):
                ui.label(_('A rule is a search that tells you when a new post matches it: in the bell above, as a '
                           'webhook event, or in your Saved Messages on Telegram.')).classes('text-grey-8 min-w-0')
                ui.space()
                ui.button(_('Webhooks'), icon='webhook', on_click=lambda: ui.navigate.to('/dashboard/webhooks')) \
                    .props('flat no-caps').mark('open-webhooks')
            if not root.database.ready:
                ui.label(_('Rules appear once the database is ready.')).classes('text-grey-7')
                return
            channels = await channel_options(root)

            @ui.refreshable
            async def rules() -> None:
                found = await root.repos.alerts.list_rules()
                if not found:
                    ui.label(_('No rules yet. Try a word: every form of it matches (ракета finds ракеты and '
                               'ракет).')).classes('text-grey-7').mark('no-rules')
                    return
                with ui.column().classes('w-full gap-0').mark('rule-list'):
                    for rule in found:
                        _rule_row(root, rule, channels, rules)

            await _new_rule_card(root, channels, rules)
            await rules()


async def _new_rule_card(root: Root, channels: dict[int, str], rules: Any) -> None:
    with ui.card().classes('w-full gap-2').props('flat bordered').mark('new-rule'):
        ui.label(_('New rule')).classes('text-lg font-medium')
        with ui.row().classes('w-full gap-2 items-start'):
            name = ui.input(_('Name')).classes('w-48').mark('rule-name')
            query = ui.input(_('Search query'), placeholder='ракета -учения').classes('grow min-w-64') \
                .mark('rule-query')
        with ui.row().classes('w-full gap-2 items-start'):
            chosen = ui.select(channels, multiple=True, with_input=True, label=_('Only these channels')) \
                .classes('grow min-w-64').props('use-chips clearable').mark('rule-channels')
            tags = ui.input(_('Only channels tagged (comma-separated)')).classes('w-64').mark('rule-tags')
            views = ui.number(_('More views than, within an hour'), min=1, precision=0).classes('w-64') \
                .mark('rule-views')
        with ui.row().classes('gap-4 items-center'):
            webhook = ui.checkbox(_('Webhook event (alert.matched)')).mark('rule-webhook')
            saved = ui.checkbox(_('Message in Saved Messages on Telegram')).mark('rule-saved')

        async def create() -> None:
            fields = {'name': name.value or '', 'query': query.value or '', 'channel_ids': list(chosen.value or []),
                      'tags': [t.strip() for t in (tags.value or '').split(',') if t.strip()],
                      'min_views': int(views.value) if views.value else None, 'webhook': webhook.value,
                      'saved_messages': saved.value}
            try:
                rule = await root.alerts.create(**fields)
            except ServiceError as error:
                ui.notify(render(error.message), type='warning', multi_line=True)
                return
            ui.notify(_('Rule “{name}” made: new posts that match it will show in the bell.', name=rule.name),
                      type='positive')
            for field in (name, query, tags):
                field.set_value('')
            chosen.set_value([])
            views.set_value(None)
            rules.refresh()
        ui.button(_('Make rule'), icon='add', on_click=create).mark('create-rule')


def _rule_row(root: Root, rule: AlertRule, channels: dict[int, str], rules: Any) -> None:
    with ui.row().classes('w-full items-center gap-x-4 gap-y-1 py-2 border-b').mark(f'rule-{rule.name}'):
        with ui.column().classes('gap-0 min-w-0 grow'):
            with ui.row().classes('items-baseline gap-2'):
                ui.label(rule.name).classes('font-medium')
                ui.label(rule.query).classes('font-mono text-sm text-grey-8 break-all')
            where = [channels.get(cid, str(cid)) for cid in rule.channel_ids or []] + \
                [f'#{tag}' for tag in rule.tags or []]
            extra = [_('in {where}', where=', '.join(where)) if where else _('in every channel')]
            if rule.min_views:
                extra.append(_('more than {views} views within an hour', views=rule.min_views))
            if rule.webhook:
                extra.append(_('webhook'))
            if rule.saved_messages:
                extra.append(_('Saved Messages'))
            extra.append(n_('{n} match', '{n} matches', rule.matched))
            ui.label(' · '.join(extra)).classes('text-sm text-grey-7')

        async def toggle(paused: bool) -> None:
            await root.alerts.update(rule.id, paused=paused)
            rules.refresh()

        async def delete() -> None:
            await root.alerts.delete(rule.id)
            ui.notify(_('Rule “{name}” deleted', name=rule.name))
            rules.refresh()
        ui.switch(_('on'), value=not rule.paused, on_change=lambda e: toggle(not e.value)).mark('rule-on')
        ui.button(icon='delete', on_click=delete).props('flat round color=negative').tooltip(_('Delete')) \
            .mark('rule-delete')
