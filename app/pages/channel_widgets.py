"""Pieces the channel list and a channel's page share: avatar, status badge, counts, progress and job buttons."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.db.models import Channel, JobStatus, utcnow
from app.i18n import _, lazy, n_, number, render
from app.i18n import duration as i18n_duration
from app.mtproto.sync import WAIT_NO_ACCOUNT
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


def progress_text(stats: dict[str, Any]) -> str:
    progress = stats.get('progress') or {}
    status = progress.get('status')
    if status == JobStatus.WAITING.value and progress.get('wait_until'):
        left = max(0, int((progress['wait_until'] - utcnow()).total_seconds()))
        if progress.get('wait_reason') == WAIT_NO_ACCOUNT:
            return _('no connected account can read it: log one in on Accounts (next try in {seconds} s)',
                     seconds=left)
        return _('waiting {seconds} s', seconds=left)
    if status == JobStatus.PAUSED.value:
        return _('paused')
    done, total = progress.get('done') or 0, progress.get('total')
    if total:
        return _('{done} / {total} · ETA {eta}', done=number(done), total=number(total),
                 eta=duration(progress.get('eta_seconds')))
    if status == JobStatus.QUEUED.value:
        return _('queued')
    return _('syncing…') if status == JobStatus.RUNNING.value else ''


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
    """Sync now, pause, resume and cancel for one channel; `show` keeps only the buttons that apply."""

    def __init__(self, root: Root, channel_id: int, after: Callable[[], Awaitable[None]]) -> None:
        self.root = root
        self.channel_id = channel_id
        self.after = after
        self.job_id: str | None = None
        with ui.row().classes('gap-0 no-wrap'):
            titled(ui.button(icon='sync', on_click=self.sync_now), _('Sync now')).props('flat round dense') \
                .mark('sync-now')
            self.resume = titled(ui.button(icon='play_arrow', on_click=lambda: self._act('resume')), _('Resume')) \
                .props('flat round dense').mark('resume-job')
            self.pause = titled(ui.button(icon='pause', on_click=lambda: self._act('pause')), _('Pause')) \
                .props('flat round dense').mark('pause-job')
            self.cancel = titled(ui.button(icon='cancel', on_click=lambda: self._act('cancel')), _('Cancel this job')) \
                .props('flat round dense').mark('cancel-job')

    def menu_items(self) -> None:
        """The same actions as items of a menu (phones): each shown while its button would be."""
        ui.menu_item(_('Sync now'), on_click=self.sync_now).mark('menu-sync-now')
        for button, action, text in ((self.resume, 'resume', _('Resume')), (self.pause, 'pause', _('Pause')),
                                     (self.cancel, 'cancel', _('Cancel this job'))):
            ui.menu_item(text, on_click=lambda a=action: self._act(a)).mark(f'menu-{action}-job') \
                .bind_visibility_from(button, 'visible')

    def show(self, stats: dict[str, Any]) -> None:
        self.job_id = stats.get('job_id')
        progress = stats.get('progress')
        paused = bool(progress) and progress.get('status') == 'paused'
        self.resume.set_visibility(paused)
        self.pause.set_visibility(bool(progress) and not paused)
        self.cancel.set_visibility(bool(progress))

    async def sync_now(self) -> None:
        job = await self.root.sync.enqueue(self.channel_id)
        ui.notify(_('One more sync follows the running one') if job.follow_up else _('Sync queued'))
        await self.after()

    async def _act(self, action: str) -> None:
        if self.job_id is not None:
            await getattr(self.root.sync, action)(self.job_id)
            await self.after()


class ProgressLine:
    """A job's progress in words; a wait counts down in the browser, so the server sends nothing while it does."""

    def __init__(self) -> None:
        with ui.row().classes('gap-0 text-sm text-grey-8').mark('job-progress-text') as self.line:
            self.text = ui.label()
            self.countdown = RelativeTime(mode='countdown')

    def show(self, stats: dict[str, Any]) -> None:
        progress = stats.get('progress') or {}
        self.line.set_visibility(bool(progress))
        until = progress.get('wait_until') if progress.get('status') == JobStatus.WAITING.value else None
        self.countdown.set_visibility(until is not None)
        if until is None:
            self.text.set_text(progress_text(stats))
        elif progress.get('wait_reason') == WAIT_NO_ACCOUNT:
            self.text.set_text(_('no connected account can read it: log one in on Accounts'))
            self.countdown.show(until, template=_(' (next try in {time})'))
        else:
            self.text.set_text('')
            self.countdown.show(until, template=_('waiting {time}'))
