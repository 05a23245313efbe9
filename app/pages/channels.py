"""/dashboard/channels: add channels by pasting references, and the list of stored channels, one page at a time.

The list is filtered, sorted and paged by the database (`SyncService.channel_page`); its rows are built once and
updated in place from events, and the times in them tick in the browser, so an idle page costs the server nothing.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.db.models import Channel
from app.i18n import _, n_, number, translate_text
from app.mtproto.bulk import BulkAction
from app.pages.add_channels import AddChannels
from app.pages.channel_bulk import BulkBar
from app.pages.channel_list import PAGE_SIZE, ListView, Toolbar
from app.pages.channel_widgets import (
    AvatarSlot,
    JobControls,
    ProgressLine,
    empty_state,
    history_incomplete,
    history_text,
    keep_files_choice,
    show_bar,
    show_status,
    subscribers_text,
)
from app.pages.chrome import titled
from app.pages.folder_import import FolderImport
from app.pages.layout import frame
from app.pages.live import ChannelEvents
from app.pages.relative_time import RelativeTime

if TYPE_CHECKING:
    from app.root import Root


class ChannelRow:
    """One channel's card, built once; `show` updates its labels, badge, buttons and progress bar in place."""

    def __init__(self, table: ChannelTable, channel: Channel) -> None:
        self.table = table
        self.channel = channel
        self.tags: list[str] | None = None
        with ui.card().classes('w-full py-2').props(f'flat bordered data-channel={channel.id}') \
                .mark(f'channel-{channel.id}') as self.card:
            with ui.row().classes('w-full items-center no-wrap gap-3 pg-wrap'):
                self.check = ui.checkbox(on_change=lambda e: table.select(channel.id, e.value)) \
                    .props('dense').mark('select-channel')
                self.avatar = AvatarSlot()
                with ui.column().classes('gap-0 grow min-w-0 basis-0 pg-title'):
                    self.title = ui.link('', f'/dashboard/channels/{channel.id}') \
                        .classes('font-medium text-base pg-break').mark('channel-title')
                    with ui.row().classes('items-center gap-1'):
                        self.handle = ui.label().classes('text-grey-7 text-sm')
                        self.chips = ui.row().classes('gap-1').mark('channel-tags')
                with ui.column().classes('gap-0 items-end text-sm pg-counts'):
                    self.subscribers = ui.label()
                    self.stored = ui.label().mark('posts-stored')
                    self.synced = RelativeTime(template=_('synced {time}'), never=_('never synced')) \
                        .classes('text-grey-7')
                    self.history = ui.label().classes('text-warning').mark('history-incomplete')
                self.badge = ui.badge().mark('channel-status')
                with ui.row().classes('gap-0 no-wrap gt-xs'):
                    self.controls = JobControls(table.root, channel.id, after=lambda: table.events.now(channel.id),
                                                dialogs=table.dialogs)
                    titled(ui.button(icon='delete', on_click=lambda: table.confirm_delete(self)), _('Delete')) \
                        .props('flat round dense color=negative').mark('delete-channel')
                with titled(ui.button(icon='more_vert'), _('Actions')).props('flat round dense').classes('lt-sm') \
                        .mark('row-menu'):
                    with ui.menu():
                        self.controls.menu_items()
                        ui.menu_item(_('Delete'), on_click=lambda: table.confirm_delete(self)).mark('menu-delete')
        self.bar: ui.linear_progress | None = None  # built when first needed: most rows of a long list never do
        self.progress: ProgressLine | None = None
        self.error: ui.label | None = None

    def show(self, channel: Channel, stats: dict[str, Any]) -> None:
        self.channel = channel
        self.avatar.show(channel)
        self.title.set_text(channel.title or str(channel.id))
        self.handle.set_text(f'@{channel.username}' if channel.username else _('private'))
        self._show_tags(channel.tags)
        self.subscribers.set_text(subscribers_text(channel))
        self.stored.set_text(n_('{n} post stored', '{n} posts stored', stats.get('posts_stored') or 0))
        self.synced.show(channel.state.last_synced_at, never='' if stats.get('progress') else _('never synced'))
        incomplete = history_incomplete(channel, stats)
        self.history.set_visibility(incomplete)
        self.history.set_text(history_text(channel) if incomplete else '')
        show_status(self.badge, stats)
        self.controls.show(stats, channel)
        self._show_progress(stats)
        self._show_error(None if stats.get('progress') else channel.state.error)
        self.check.set_value(channel.id in self.table.bulk.selected)

    def _show_progress(self, stats: dict[str, Any]) -> None:
        progress = stats.get('progress')
        if self.bar is None or self.progress is None:
            if not progress:
                return
            with self.card:
                self.bar = ui.linear_progress(value=0, show_value=False).props('rounded size=8px') \
                    .mark('job-progress')
                self.progress = ProgressLine()
        self.progress.show(stats)
        show_bar(self.bar, stats)

    def _show_error(self, error: str | None) -> None:
        if self.error is None:
            if not error:
                return
            with self.card:
                self.error = ui.label().classes('text-sm text-negative').mark('channel-error')
        self.error.set_visibility(bool(error))
        self.error.set_text(translate_text(error or ''))

    def _show_tags(self, tags: list[str]) -> None:
        if tags == self.tags:
            return
        self.tags = list(tags)
        self.chips.clear()
        with self.chips:
            for tag in tags:
                ui.badge(tag, color='blue-1', text_color='blue-10').props('rounded').classes('cursor-pointer') \
                    .on('click', lambda t=tag: self.table.toolbar.tag.set_value(t))


class ChannelTable:
    """One page of the channel list. Rows are updated in place as events arrive; the page's set of rows changes
    only when channels are added or deleted, or the person changes the filters or the page."""

    def __init__(self, root: Root, view: ListView) -> None:
        self.root = root
        self.rows: dict[int, ChannelRow] = {}
        self.total = 0
        self.dialogs = ui.element('div')  # dialogs live outside the rows: updating a row never closes one
        self.toolbar = Toolbar(view, [], self.load)
        self.bulk = BulkBar(root, self.dialogs, self._after_bulk)
        self.bulk.changed = self._show_selection
        with ui.row().classes('w-full items-center gap-3 px-4'):
            self.page_check = ui.checkbox('', on_change=self._select_page).props('dense').classes('select-page') \
                .mark('select-page')
            self.showing = ui.label().classes('text-sm text-grey-8').mark('showing')
        self.placeholder = ui.element('div').classes('w-full')
        self.container = ui.column().classes('w-full gap-2').mark('channel-table')
        self.pager = ui.pagination(1, 1, direction_links=True, value=view.page, on_change=self._page_changed) \
            .props('max-pages=9 boundary-numbers').classes('self-center').mark('pager')
        self.events = ChannelEvents(root, self.refresh, on_structure=self.load)
        self._placeholder_kind: str | None = None

    @property
    def view(self) -> ListView:
        """What the list shows: the toolbar holds it, the pager moves its page."""
        return self.toolbar.view

    async def _page_changed(self, event: Any) -> None:
        if event.value != self.view.page:
            self.toolbar.view = replace(self.view, page=event.value)
            ui.navigate.history.push(self.view.url())  # Back returns to the page before
            self.toolbar.typed = False
            await self.load()
            ui.run_javascript('window.scrollTo(0, 0)')

    async def load(self) -> None:
        """The page's rows from the database: first paint, a changed filter or page, a channel added or deleted."""
        if not self.root.database.ready:
            return
        channels, stats, self.total = await self.root.sync.channel_page(self.view.query())
        self.toolbar.set_tags(list(await self.root.sync.directory.tags()))
        shown = {channel.id for channel in channels}
        if self.bulk.selected - shown:  # a selection is what the person sees: nothing hidden by a filter or a page
            self.bulk.selected &= shown
            self.bulk.show()
        for channel_id in [i for i in self.rows if i not in shown]:
            self.container.remove(self.rows.pop(channel_id).card)
        for index, (channel, item) in enumerate(zip(channels, stats, strict=True)):
            row = self.rows.get(channel.id)
            if row is None:
                with self.container:
                    row = self.rows[channel.id] = ChannelRow(self, channel)
            if self.container.default_slot.children.index(row.card) != index:
                row.card.move(target_index=index)
            row.show(channel, item)
        self._show_counts()

    async def refresh(self, channel_ids: set[int]) -> None:
        """Events about these channels: the rows on this page follow, nothing else moves."""
        visible = [channel_id for channel_id in channel_ids if channel_id in self.rows]
        if not visible:
            return
        channels = await self.root.repos.channels.get_many(visible)
        stats = await self.root.sync.channel_stats_many(list(channels.values()))
        for channel, item in zip(channels.values(), stats, strict=True):
            row = self.rows.get(channel.id)  # the list may have been redrawn while this read
            if row is not None:
                row.show(channel, item)
        if len(channels) < len(visible):  # deleted meanwhile
            await self.load()

    def _show_counts(self) -> None:
        pages = max(1, -(-self.total // PAGE_SIZE))
        if self.pager.props.get('max') != pages:
            self.pager.props['max'] = pages
            self.pager.update()
        self.pager.set_visibility(pages > 1)
        first = (self.view.page - 1) * PAGE_SIZE
        self.showing.set_text(_('{first}–{last} of {total}', first=number(first + 1),
                                last=number(first + len(self.rows)), total=number(self.total)) if self.rows else '')
        self._show_selection()
        self._placeholder()

    def _placeholder(self) -> None:
        if self.rows:
            kind = 'rows'
        elif self.view.filtered:
            kind = 'no-match'
        else:
            kind = 'no-channels' if self.root.accounts.counts()[1] else 'no-accounts'
        if kind == self._placeholder_kind:
            return
        self._placeholder_kind = kind
        self.placeholder.clear()
        with self.placeholder:
            if kind == 'no-accounts':
                empty_state()
            elif kind == 'no-channels':
                ui.label(_('No channels yet: paste a link above.')).classes('text-grey-7').mark('no-channels')
            elif kind == 'no-match':
                with ui.row().classes('items-center gap-2').mark('no-match'):
                    ui.label(_('No channel matches these filters.')).classes('text-grey-7')
                    ui.button(_('Show all'), on_click=self.toolbar.reset).props('flat dense no-caps')

    def select(self, channel_id: int, selected: bool) -> None:
        if selected:
            self.bulk.selected.add(channel_id)
        else:
            self.bulk.selected.discard(channel_id)
        self.bulk.show()
        self._show_selection()

    def _select_page(self, event: Any) -> None:
        on_page = set(self.rows)
        if event.value and not on_page <= self.bulk.selected:
            self.bulk.selected |= on_page
        elif not event.value and on_page <= self.bulk.selected:
            self.bulk.selected -= on_page
        else:
            return
        self.bulk.show()
        self._show_selection()

    def _show_selection(self) -> None:
        for channel_id, row in self.rows.items():
            row.check.set_value(channel_id in self.bulk.selected)
        self.page_check.set_value(bool(self.rows) and set(self.rows) <= self.bulk.selected)
        self.page_check.set_text(_('Select all on this page') if not self.bulk.selected else '')

    async def _after_bulk(self, action: BulkAction, channel_ids: list[int]) -> None:
        await (self.load() if action in (BulkAction.DELETE, BulkAction.TAG, BulkAction.UNTAG)
               else self.events.now(*channel_ids))

    async def confirm_delete(self, row: ChannelRow) -> None:
        channel = row.channel
        files, size = await self.root.repos.media.kept_total([channel.id])
        with self.dialogs, ui.dialog() as dialog, ui.card():
            question = ui.label().mark('delete-question')
            question.bind_text_from(row.stored, 'text', lambda stored: _('Delete “{title}” and its {stored}?',
                                                                          title=channel.title, stored=stored))
            keep = keep_files_choice(files, size)
            with ui.row().classes('justify-end w-full'):
                ui.button(_('Cancel'), on_click=dialog.close).props('flat')

                async def delete() -> None:
                    await self.root.sync.delete_channel(channel.id, keep_files=keep.value)
                    dialog.close()
                    await self.events.now(channel.id)
                ui.button(_('Delete'), on_click=delete).props('color=negative').mark('confirm-delete')
        dialog.on('hide', lambda: self.dialogs.remove(dialog))
        dialog.open()


def register(root: Root) -> None:
    # pages and filters of a list are history entries (pushState): Back and Forward show the list as it was then
    ui.add_head_html("<script>window.addEventListener('popstate', () => location.reload());</script>", shared=True)

    @ui.page('/dashboard/channels')
    async def channels_page(q: str = '', status: str = '', tag: str = '', sort: str = '', order: str = '',
                            page: str = '') -> None:
        with frame(_('Channels')):
            if not root.settings.telegram_configured:
                empty_state()
                return
            table: ChannelTable | None = None

            async def added() -> None:
                if table is not None:
                    await table.load()
            form = AddChannels(root, added)
            FolderImport(root, form)
            await form.load_accounts()
            await form.restore()
            view = ListView.from_params({'q': q, 'status': status, 'tag': tag, 'sort': sort, 'order': order,
                                         'page': page})
            table = ChannelTable(root, view)
            await table.load()
            ui.timer(5.0, form.load_accounts)
