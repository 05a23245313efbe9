"""/dashboard/channels: add channels by pasting references, and a live table of stored channels and their jobs."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.db.models import Channel, JobStatus, utcnow
from app.mtproto.sync import WAIT_NO_ACCOUNT
from app.pages.add_channels import AddChannels
from app.pages.layout import frame

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


class ChannelTable:
    def __init__(self, root: Root) -> None:
        self.root = root
        self.signature: Any = None
        self.container = ui.column().classes('w-full gap-2').mark('channel-table')

    async def load(self) -> list[tuple[Channel, dict[str, Any]]]:
        channels = await self.root.repos.channels.list()
        return [(channel, await self.root.sync.channel_stats(channel)) for channel in channels]

    async def refresh(self, force: bool = False) -> None:
        if not self.root.database.ready:
            return
        rows = await self.load()
        signature = [(c.model_dump(exclude={'updated_at'}), progress_text(s), s.get('posts_stored'), ago(
            c.state.last_synced_at)) for c, s in rows]
        if signature == self.signature and not force:
            return
        self.signature = signature
        self.container.clear()
        with self.container:
            if not rows:
                if not self.root.accounts or not self.root.accounts.counts()[1]:
                    empty_state()
                else:
                    ui.label('No channels yet: paste a link above.').classes('text-grey-7').mark('no-channels')
                return
            for channel, stats in rows:
                self.row(channel, stats)

    def row(self, channel: Channel, stats: dict[str, Any]) -> None:
        status = stats.get('sync_status') or 'idle'
        progress = stats.get('progress')
        with ui.card().classes('w-full py-2').props('flat bordered').mark(f'channel-{channel.id}'):
            with ui.row().classes('w-full items-center no-wrap gap-3'):
                avatar(channel)
                with ui.column().classes('gap-0 grow'):
                    ui.link(channel.title or str(channel.id), f'/dashboard/channels/{channel.id}') \
                        .classes('font-medium text-base').mark('channel-title')
                    ui.label(f'@{channel.username}' if channel.username else 'private').classes('text-grey-7 text-sm')
                with ui.column().classes('gap-0 items-end text-sm'):
                    subscribers = f'{channel.participants_count:,}' if channel.participants_count is not None else '–'
                    ui.label(f'{subscribers} subscribers')
                    stored = stats.get('posts_stored') or 0
                    if progress and progress.get('done') and channel.state.status == 'backfilling':
                        stored = max(stored, progress['done'])
                    ui.label(f'{stored:,} posts stored').mark('posts-stored')
                    ui.label(f'synced {ago(channel.state.last_synced_at)}').classes('text-grey-7')
                ui.badge(status, color=STATUS_COLORS.get(status, 'grey-7')).mark('channel-status')
                with ui.row().classes('gap-0 no-wrap'):
                    ui.button(icon='sync', on_click=lambda c=channel: self.sync_now(c.id)) \
                        .props('flat round dense').tooltip('Sync now').mark('sync-now')
                    job_id = stats.get('job_id')
                    if progress and progress.get('status') == 'paused':
                        ui.button(icon='play_arrow', on_click=lambda j=job_id: self.resume(j)) \
                            .props('flat round dense').tooltip('Resume').mark('resume-job')
                    elif progress:
                        ui.button(icon='pause', on_click=lambda j=job_id: self.pause(j)) \
                            .props('flat round dense').tooltip('Pause').mark('pause-job')
                    if progress:
                        ui.button(icon='cancel', on_click=lambda j=job_id: self.cancel(j)) \
                            .props('flat round dense').tooltip('Cancel this job').mark('cancel-job')
                    ui.button(icon='delete', on_click=lambda c=channel: self.confirm_delete(c)) \
                        .props('flat round dense color=negative').tooltip('Delete').mark('delete-channel')
            if progress:
                total = progress.get('total') or 0
                value = min(1.0, (progress.get('done') or 0) / total) if total else 0.0
                ui.linear_progress(value=round(value, 3), show_value=False).props('rounded size=8px') \
                    .mark('job-progress')
                ui.label(progress_text(stats)).classes('text-sm text-grey-8').mark('job-progress-text')
            elif channel.state.error:
                ui.label(channel.state.error).classes('text-sm text-negative').mark('channel-error')

    async def sync_now(self, channel_id: int) -> None:
        await self.root.sync.enqueue(channel_id)
        ui.notify('Sync queued')
        await self.refresh(force=True)

    async def pause(self, job_id: str) -> None:
        await self.root.sync.pause(job_id)
        await self.refresh(force=True)

    async def resume(self, job_id: str) -> None:
        await self.root.sync.resume(job_id)
        await self.refresh(force=True)

    async def cancel(self, job_id: str) -> None:
        await self.root.sync.cancel(job_id)
        await self.refresh(force=True)

    def confirm_delete(self, channel: Channel) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(f'Delete “{channel.title}” and its {channel.state.posts_stored:,} stored posts?')
            with ui.row().classes('justify-end w-full'):
                ui.button('Cancel', on_click=dialog.close).props('flat')

                async def delete() -> None:
                    await self.root.sync.delete_channel(channel.id)
                    dialog.close()
                    await self.refresh(force=True)
                ui.button('Delete', on_click=delete).props('color=negative').mark('confirm-delete')
        dialog.open()


def register(root: Root) -> None:
    @ui.page('/dashboard/channels')
    async def channels_page() -> None:
        with frame('Channels'):
            if not root.settings.telegram_configured:
                empty_state()
                return
            table: ChannelTable | None = None

            async def changed() -> None:
                if table is not None:
                    await table.refresh(force=True)
            form = AddChannels(root, changed)
            await form.load_accounts()
            table = ChannelTable(root)
            await table.refresh(force=True)
            ui.timer(1.0, table.refresh)
            ui.timer(5.0, form.load_accounts)
