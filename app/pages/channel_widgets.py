"""Pieces the channel list and a channel's page share: avatar, status badge, counts, progress and job buttons."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.db.models import Channel, JobKind, JobStatus
from app.i18n import _, file_size, lazy, n_, number, render
from app.i18n import duration as i18n_duration
from app.mtproto.sync import WAIT_BUDGET, WAIT_FLOOD, WAIT_NO_ACCOUNT
from app.pages.chrome import titled
from app.pages.relative_time import RelativeTime

if TYPE_CHECKING:
    from app.root import Root

STATUS_COLORS = {'idle': 'positive', 'queued': 'grey-7', 'backfilling': 'primary', 'syncing': 'primary',
                 'waiting': 'warning', 'paused': 'grey-7', 'error': 'negative'}
STATUS_NAMES = {'idle': lazy('idle'), 'queued': lazy('queued'), 'backfilling': lazy('backfilling'),
                'syncing': lazy('syncing'), 'waiting': lazy('waiting'), 'paused': lazy('paused'),
                'error': lazy('error')}


def empty_state() -> None:
    with ui.card().classes('w-full items-center text-center p-8 gap-3').props('flat bordered').mark('empty-state'):
        ui.icon('campaign', color='grey-6').classes('text-6xl')
        ui.label(_('No channels yet')).classes('text-xl font-medium')
        ui.label(_('Parsegram reads channels through a Telegram account. First add an account on the Accounts '
                   'page, then come back here and add a channel by pasting its link (t.me/name, @name or an '
                   'invite link).')).classes('text-grey-8 max-w-xl')
        ui.button(_('Add an account'), icon='person_add', on_click=lambda: ui.navigate.to('/dashboard/accounts'))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return '…'
    return render(i18n_duration(seconds))


WAIT_REASONS = {WAIT_FLOOD: lazy('Telegram asked its account to wait (FLOOD_WAIT)'),
                WAIT_BUDGET: lazy("its accounts have used today's look-ups"),
                WAIT_NO_ACCOUNT: lazy('no connected account can read it: log one in on Accounts')}


def progress_text(stats: dict[str, Any]) -> str:
    """A job's progress in words (a wait's time left is counted down beside it in the browser)."""
    progress = stats.get('progress') or {}
    status = progress.get('status')
    if status == JobStatus.WAITING.value:
        return render(WAIT_REASONS.get(progress.get('wait_reason') or WAIT_FLOOD, WAIT_REASONS[WAIT_FLOOD]))
    if status == JobStatus.PAUSED.value:
        return _('paused')
    done, total = progress.get('done') or 0, progress.get('total')
    if total:
        return _('{done} / {total} · ETA {eta}', done=number(done), total=number(total),
                 eta=duration(progress.get('eta_seconds')))
    if status == JobStatus.QUEUED.value:
        return _('queued')
    return _('syncing…') if status == JobStatus.RUNNING.value else ''


def history_incomplete(channel: Channel, stats: dict[str, Any]) -> bool:
    """Its history was never read to the first post and no backfill is reading it now."""
    progress = stats.get('progress') or {}
    return not channel.state.backfilled and progress.get('kind') != JobKind.BACKFILL.value


def history_text(channel: Channel) -> str:
    stored, total = channel.state.posts_stored, channel.state.top_message_id
    if total > stored:
        return _('{stored} of about {total} posts: history incomplete', stored=number(stored), total=number(total))
    return _('history not read to its start yet')


def avatar(channel: Channel, size: str = 'md') -> None:
    if channel.photo:  # a plain <img>: a list shows dozens of these
        with ui.avatar(size=size):
            ui.element('img').props(f'src="{channel.photo}" alt=""')
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
    if channel.participants_count is None:
        return _('– subscribers')
    return n_('{n} subscriber', '{n} subscribers', channel.participants_count)


def show_status(badge: ui.badge, stats: dict[str, Any]) -> None:
    status = stats.get('sync_status') or 'idle'
    badge.set_text(render(STATUS_NAMES.get(status, status)))
    badge.props(f'color={STATUS_COLORS.get(status, "grey-7")}')


class JobControls:
    """Sync now, pause, resume and cancel for one channel; `show` keeps only the buttons that apply. Resume goes on
    with a paused job, a schedule switched off, or a history left unread; Cancel asks first and names the channel."""

    def __init__(self, root: Root, channel_id: int, after: Callable[[], Awaitable[None]],
                 dialogs: ui.element | None = None) -> None:
        self.root = root
        self.channel_id = channel_id
        self.after = after
        self.dialogs = dialogs
        self.job_id: str | None = None
        self.channel: Channel | None = None
        self.stats: dict[str, Any] = {}
        with ui.row().classes('gap-0 no-wrap'):
            titled(ui.button(icon='sync', on_click=self.sync_now), _('Sync now')).props('flat round dense') \
                .mark('sync-now')
            self.resume = titled(ui.button(icon='play_arrow', on_click=self.go_on), _('Resume')) \
                .props('flat round dense').mark('resume-job')
            self.pause = titled(ui.button(icon='pause', on_click=lambda: self._act('pause')), _('Pause')) \
                .props('flat round dense').mark('pause-job')
            self.cancel = titled(ui.button(icon='cancel', on_click=self.confirm_cancel), _('Cancel this job')) \
                .props('flat round dense').mark('cancel-job')

    def menu_items(self) -> None:
        """The same actions as items of a menu (phones): each shown while its button would be."""
        ui.menu_item(_('Sync now'), on_click=self.sync_now).mark('menu-sync-now')
        for name, button, action, text in (('resume', self.resume, self.go_on, _('Resume')),
                                           ('pause', self.pause, lambda: self._act('pause'), _('Pause')),
                                           ('cancel', self.cancel, self.confirm_cancel, _('Cancel this job'))):
            ui.menu_item(text, on_click=action).mark(f'menu-{name}-job').bind_visibility_from(button, 'visible')

    def show(self, stats: dict[str, Any], channel: Channel) -> None:
        self.job_id, self.stats, self.channel = stats.get('job_id'), stats, channel
        progress = stats.get('progress')
        paused = bool(progress) and progress.get('status') == JobStatus.PAUSED.value
        resumable = paused or (not progress and (not channel.sync.enabled or history_incomplete(channel, stats)))
        self.resume.set_visibility(resumable)
        self.pause.set_visibility(bool(progress) and not paused)
        self.cancel.set_visibility(bool(progress))

    async def sync_now(self) -> None:
        job = await self.root.sync.enqueue(self.channel_id)
        ui.notify(_('One more sync follows the running one') if job.follow_up else _('Sync queued'))
        await self.after()

    async def go_on(self) -> None:
        """Resume what stopped: the paused job, else the switched-off schedule, else the unread history."""
        progress = self.stats.get('progress') or {}
        sync = self.root.sync
        if progress.get('status') == JobStatus.PAUSED.value and self.job_id is not None:
            await sync.resume(self.job_id)
        elif self.channel is not None and not self.channel.sync.enabled:
            await sync.resume_channel(self.channel_id)
        else:
            await sync.enqueue(self.channel_id, kind=JobKind.BACKFILL)
            ui.notify(_('Reading the rest of its history'))
        await self.after()

    def confirm_cancel(self) -> None:
        """Cancelling a backfill stops reading history: ask first, say what is kept and that it can go on later."""
        progress = self.stats.get('progress') or {}
        title = self.channel.title if self.channel is not None else str(self.channel_id)
        with self.dialogs or ui.element('div'), ui.dialog() as dialog, ui.card().mark('cancel-dialog'):
            if progress.get('kind') == JobKind.BACKFILL.value:
                ui.label(_('Stop reading the history of “{title}”?', title=title)).classes('text-lg')
                ui.label(_('The {stored} posts read so far are kept; Resume reads the rest later.',
                           stored=number(self.channel.state.posts_stored if self.channel else 0)))
            else:
                ui.label(_('Cancel the running sync of “{title}”?', title=title)).classes('text-lg')
            with ui.row().classes('w-full justify-end'):
                ui.button(_('Keep going'), on_click=dialog.close).props('flat')

                async def cancel() -> None:
                    dialog.close()
                    await self._act('cancel')
                ui.button(_('Cancel the job'), on_click=cancel).props('color=negative').mark('confirm-cancel')
        dialog.open()

    async def _act(self, action: str) -> None:
        if self.job_id is not None:
            await getattr(self.root.sync, action)(self.job_id)
            await self.after()


def show_bar(bar: ui.linear_progress, stats: dict[str, Any]) -> None:
    """How far a job is, when that is known: a running job of unknown size moves, a waiting one shows no empty bar."""
    progress = stats.get('progress') or {}
    total = progress.get('total') or 0
    running = progress.get('status') == JobStatus.RUNNING.value
    bar.set_visibility(bool(total) or running)
    if total or not running:
        bar.props(remove='indeterminate')
    else:
        bar.props('indeterminate')
    bar.set_value(round(min(1.0, (progress.get('done') or 0) / total), 3) if total else 0.0)


class ProgressLine:
    """A job's progress in words; a wait says why and counts down in the browser, so the server sends nothing while
    it does, and says it goes on once the time is up."""

    def __init__(self) -> None:
        with ui.row().classes('gap-1 text-sm text-grey-8').mark('job-progress-text') as self.line:
            self.text = ui.label().classes('pg-break')
            self.countdown = RelativeTime(mode='countdown', after=_('· going on…'))

    def show(self, stats: dict[str, Any]) -> None:
        progress = stats.get('progress') or {}
        self.line.set_visibility(bool(progress))
        until = progress.get('wait_until') if progress.get('status') == JobStatus.WAITING.value else None
        self.countdown.set_visibility(until is not None)
        self.text.set_text(progress_text(stats))
        if until is not None:
            self.countdown.show(until, template=_('· goes on in {time}'))


def keep_files_choice(files: int, size: int) -> ui.checkbox:
    """Whether deleting keeps the files kept from the posts: asked only when there are some; kept by default."""
    box = ui.checkbox(n_('Keep its {n} kept file ({size}): they stay downloadable',
                         'Keep its {n} kept files ({size}): they stay downloadable', files, size=file_size(size)),
                      value=True).mark('keep-files')
    box.set_visibility(files > 0)
    return box
