"""/dashboard/channels: add channels by pasting references, and a live table of stored channels and their jobs."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.db.models import Channel, JobStatus, utcnow
from app.mtproto.sync import WAIT_NO_ACCOUNT
from app.pages.add_channels import AddChannels
from app.pages.layout import frame
from app.pages.live import ChannelEvents

if TYPE_CHECKING:
    from app.root import Root

STATUS_COLORS = {'idle': 'positive', 'queued': 'grey-7', 'backfilling': 'primary', 'syncing': 'primary',
                 'waiting': 'warning', 'paused': 'grey-7', 'error': 'negative'}


def empty_state() -> None:
    with ui.card().classes('w-full items-center text-center p-8 gap-3').props('flat bordered').mark('empty-state'):
        ui.icon('campaign', color='grey-6').classes('text-6xl')
        ui.label('No channels yet').classes('text-xl font-medium')
        ui.label('Parsegram reads channels through a Telegram account. First add an account on the Accounts '
                 'page, then come back here and add a channel by pasting its link (t.me/name, @name or an '
                 'invite link).').classes('text-grey-8 max-w-xl')
        ui.button('Add an account', icon='person_add', on_click=lambda: ui.navigate.to('/dashboard/accounts'))


def ago(moment: datetime | None) -> str:
    if moment is None:
        return 'never'
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    if seconds < 60:
        return f'{seconds} s ago'
    if seconds < 3600:
        return f'{seconds // 60} min ago'
    if seconds < 86400:
        return f'{seconds // 3600} h ago'
    return moment.strftime('%Y-%m-%d')


def duration(seconds: float | None) -> str:
    if seconds is None:
        return '…'
    seconds = int(seconds)
    if seconds < 60:
        return f'{seconds} s'
    if seconds < 3600:
        return f'{seconds // 60} min {seconds % 60} s'
    return f'{seconds // 3600} h {seconds % 3600 // 60} min'


def progress_text(stats: dict[str, Any]) -> str:
    progress = stats.get('progress') or {}
    status = progress.get('status')
    if status == JobStatus.WAITING.value and progress.get('wait_until'):
        left = max(0, int((progress['wait_until'] - utcnow()).total_seconds()))
        if progress.get('wait_reason') == WAIT_NO_ACCOUNT:
            return f'no connected account can read it: log one in on Accounts (next try in {left} s)'
        return f'waiting {left} s'
    if status == JobStatus.PAUSED.value:
        return 'paused'
    done, total = progress.get('done') or 0, progress.get('total')
    if total:
        return f'{done:,} / {total:,} · ETA {duration(progress.get("eta_seconds"))}'
    if status == JobStatus.QUEUED.value:
        return 'queued'
    return 'syncing…' if status == JobStatus.RUNNING.value else ''


def avatar(channel: Channel, size: str = 'md') -> None:
    if channel.photo:
        with ui.avatar(size=size):
            ui.image(channel.photo)
    else:
        ui.avatar(icon='campaign', color='primary', text_color='white', size=size)


class AvatarSlot:
    """A channel's avatar that is only replaced when the photo changes: no blinking on updates."""

    def __init__(self, size: str = 'md') -> None:
        self.size = size
        self.box = ui.element('div')
        self.photo: str | None = ''

    def show(self, channel: Channel) -> None:
        if channel.photo != self.photo:
            self.photo = channel.photo
            self.box.clear()
            with self.box:
                avatar(channel, self.size)


def subscribers_text(channel: Channel) -> str:
    return f'{channel.participants_count:,} subscribers' if channel.participants_count is not None else '– subscribers'


def show_status(badge: ui.badge, stats: dict[str, Any]) -> None:
    status = stats.get('sync_status') or 'idle'
    badge.set_text(status)
    badge.props(f'color={STATUS_COLORS.get(status, "grey-7")}')


class JobControls:
    """Sync now, pause, resume and cancel for one channel; `show` keeps only the buttons that apply."""

    def __init__(self, root: Root, channel_id: int, after: Callable[[], Awaitable[None]]) -> None:
        self.root = root
        self.channel_id = channel_id
        self.after = after
        self.job_id: str | None = None
        with ui.row().classes('gap-0 no-wrap'):
            ui.button(icon='sync', on_click=self.sync_now).props('flat round dense').tooltip('Sync now') \
                .mark('sync-now')
            self.resume = ui.button(icon='play_arrow', on_click=lambda: self._act('resume')) \
                .props('flat round dense').tooltip('Resume').mark('resume-job')
            self.pause = ui.button(icon='pause', on_click=lambda: self._act('pause')) \
                .props('flat round dense').tooltip('Pause').mark('pause-job')
            self.cancel = ui.button(icon='cancel', on_click=lambda: self._act('cancel')) \
                .props('flat round dense').tooltip('Cancel this job').mark('cancel-job')

    def show(self, stats: dict[str, Any]) -> None:
        self.job_id = stats.get('job_id')
        progress = stats.get('progress')
        paused = bool(progress) and progress.get('status') == 'paused'
        self.resume.set_visibility(paused)
        self.pause.set_visibility(bool(progress) and not paused)
        self.cancel.set_visibility(bool(progress))

    async def sync_now(self) -> None:
        job = await self.root.sync.enqueue(self.channel_id)
        ui.notify('One more sync follows the running one' if job.follow_up else 'Sync queued')
        await self.after()

    async def _act(self, action: str) -> None:
        if self.job_id is not None:
            await getattr(self.root.sync, action)(self.job_id)
            await self.after()


class ChannelRow:
    """One channel's card, built once; `show` updates its labels, badge, buttons and progress bar in place."""

    def __init__(self, table: ChannelTable, channel: Channel) -> None:
        self.table = table
        self.channel = channel
        self.stats: dict[str, Any] = {}
        with ui.card().classes('w-full py-2').props('flat bordered').mark(f'channel-{channel.id}') as self.card:
            with ui.row().classes('w-full items-center no-wrap gap-3'):
                self.avatar = AvatarSlot()
                with ui.column().classes('gap-0 grow'):
                    self.title = ui.link('', f'/dashboard/channels/{channel.id}') \
                        .classes('font-medium text-base').mark('channel-title')
                    self.handle = ui.label().classes('text-grey-7 text-sm')
                with ui.column().classes('gap-0 items-end text-sm'):
                    self.subscribers = ui.label()
                    self.stored = ui.label().mark('posts-stored')
                    self.synced = ui.label().classes('text-grey-7')
                self.badge = ui.badge().mark('channel-status')
                with ui.row().classes('gap-0 no-wrap'):
                    self.controls = JobControls(table.root, channel.id, after=lambda: table.events.now(channel.id))
                    ui.button(icon='delete', on_click=lambda: table.confirm_delete(self)) \
                        .props('flat round dense color=negative').tooltip('Delete').mark('delete-channel')
            self.bar = ui.linear_progress(value=0, show_value=False).props('rounded size=8px').mark('job-progress')
            self.progress = ui.label().classes('text-sm text-grey-8').mark('job-progress-text')
            self.error = ui.label().classes('text-sm text-negative').mark('channel-error')

    def show(self, channel: Channel, stats: dict[str, Any]) -> None:
        self.channel, self.stats = channel, stats
        self.avatar.show(channel)
        self.title.set_text(channel.title or str(channel.id))
        self.handle.set_text(f'@{channel.username}' if channel.username else 'private')
        self.subscribers.set_text(subscribers_text(channel))
        self.stored.set_text(f'{stats.get("posts_stored") or 0:,} posts stored')
        show_status(self.badge, stats)
        progress = stats.get('progress')
        self.controls.show(stats)
        self.bar.set_visibility(bool(progress))
        self.progress.set_visibility(bool(progress))
        self.error.set_visibility(not progress and bool(channel.state.error))
        self.error.set_text(channel.state.error or '')
        if progress:
            total = progress.get('total') or 0
            self.bar.set_value(round(min(1.0, (progress.get('done') or 0) / total), 3) if total else 0.0)
        self.tick()

    def tick(self) -> None:
        """The texts that move with the clock alone: "synced … ago" and a wait's countdown."""
        self.synced.set_text(f'synced {ago(self.channel.state.last_synced_at)}')
        if self.stats.get('progress'):
            self.progress.set_text(progress_text(self.stats))


class ChannelTable:
    """The channel list. Rows are added, updated and removed one by one as events arrive; never rebuilt."""

    def __init__(self, root: Root) -> None:
        self.root = root
        self.rows: dict[int, ChannelRow] = {}
        self.dialogs = ui.element('div')  # dialogs live outside the rows: updating a row never closes one
        self.placeholder = ui.element('div').classes('w-full')
        self.container = ui.column().classes('w-full gap-2').mark('channel-table')
        self.events = ChannelEvents(root, self.refresh)
        self._placeholder_kind: str | None = None

    async def load(self) -> None:
        """All rows from the database (the page's first paint, and after a paste added channels)."""
        if not self.root.database.ready:
            return
        channels = await self.root.repos.channels.list()
        known = {channel.id for channel in channels}
        for channel_id in [i for i in self.rows if i not in known]:
            self._remove(channel_id)
        for channel in channels:
            await self._show(channel)
        self._placeholder()

    async def refresh(self, channel_ids: set[int]) -> None:
        for channel_id in channel_ids:
            channel = await self.root.repos.channels.get(channel_id)
            if channel is None:
                self._remove(channel_id)
            else:
                await self._show(channel)
        self._placeholder()

    async def _show(self, channel: Channel) -> None:
        stats = await self.root.sync.channel_stats(channel)
        row = self.rows.get(channel.id)
        if row is None:
            with self.container:
                row = self.rows[channel.id] = ChannelRow(self, channel)
        row.show(channel, stats)

    def _remove(self, channel_id: int) -> None:
        row = self.rows.pop(channel_id, None)
        if row is not None:
            self.container.remove(row.card)

    def _placeholder(self) -> None:
        kind = 'rows' if self.rows else 'no-channels' if self.root.accounts.counts()[1] else 'no-accounts'
        if kind == self._placeholder_kind:
            return
        self._placeholder_kind = kind
        self.placeholder.clear()
        with self.placeholder:
            if kind == 'no-accounts':
                empty_state()
            elif kind == 'no-channels':
                ui.label('No channels yet: paste a link above.').classes('text-grey-7').mark('no-channels')

    def tick(self) -> None:
        for row in self.rows.values():
            row.tick()

    def confirm_delete(self, row: ChannelRow) -> None:
        channel = row.channel
        with self.dialogs, ui.dialog() as dialog, ui.card():
            question = ui.label().mark('delete-question')
            question.bind_text_from(row.stored, 'text', lambda stored: f'Delete “{channel.title}” and its {stored}?')
            with ui.row().classes('justify-end w-full'):
                ui.button('Cancel', on_click=dialog.close).props('flat')

                async def delete() -> None:
                    await self.root.sync.delete_channel(channel.id)
                    dialog.close()
                    await self.events.now(channel.id)
                ui.button('Delete', on_click=delete).props('color=negative').mark('confirm-delete')
        dialog.on('hide', lambda: self.dialogs.remove(dialog))
        dialog.open()


def register(root: Root) -> None:
    @ui.page('/dashboard/channels')
    async def channels_page() -> None:
        with frame('Channels'):
            if not root.settings.telegram_configured:
                empty_state()
                return
            table: ChannelTable | None = None

            async def added() -> None:
                if table is not None:
                    await table.load()
            form = AddChannels(root, added)
            await form.load_accounts()
            table = ChannelTable(root)
            await table.load()
            ui.timer(1.0, table.tick)
            ui.timer(5.0, form.load_accounts)
