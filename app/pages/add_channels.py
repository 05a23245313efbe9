"""The 'Add channels' box: a paste becomes queued references, each shown with its state until it is added.

The AddQueue does the work in the background (within every account's budgets); this box shows each line as
queued, resolving, added, an invite to confirm, or its error, and puts the lines that failed back in the box.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from nicegui import ui

from app.db.models import ChannelRefEntry, RefState, utcnow
from app.i18n import _, n_, number, translate_text
from app.mtproto.channels import ChannelError
from app.pages.relative_time import RelativeTime

if TYPE_CHECKING:
    from app.root import Root

FINAL = (RefState.ADDED, RefState.ERROR)
MAX_SHOWN = 300  # queued lines shown after a reload; a larger queue is still worked through in full
SHOWN_WAIT_SECONDS = 5  # a shorter wait is only the queue's own rhythm: not worth a reason on the line


def waits_until(entry: ChannelRefEntry) -> datetime | None:
    """When a queued line is expected to go on, if it waits for a reason worth telling."""
    if entry.state != RefState.QUEUED or entry.retry_at is None or not entry.reason:
        return None
    return entry.retry_at if (entry.retry_at - utcnow()).total_seconds() > SHOWN_WAIT_SECONDS else None


def entry_text(entry: ChannelRefEntry) -> tuple[str, str, str]:
    """(icon, colour, text) of one reference's line."""
    if entry.state == RefState.ADDED:
        if entry.created:
            return 'check_circle', 'positive', _('{ref}: added “{title}”; fetching its posts…', ref=entry.ref,
                                                 title=entry.title)
        return 'info', 'grey-7', _('{ref}: “{title}” is already here.', ref=entry.ref, title=entry.title)
    if entry.state == RefState.ERROR:
        return 'error', 'negative', f'{entry.ref}: {translate_text(entry.reason or "")}'
    if entry.state == RefState.RESOLVING:
        return 'sync', 'primary', _('{ref}: resolving…', ref=entry.ref)
    if entry.state == RefState.NEEDS_JOIN:
        if entry.participants_count is None:
            return 'group_add', 'primary', _('{ref}: invite to “{title}”', ref=entry.ref, title=entry.title)
        return 'group_add', 'primary', n_('{ref}: invite to “{title}”, {n} member',
                                          '{ref}: invite to “{title}”, {n} members', entry.participants_count,
                                          ref=entry.ref, title=entry.title)
    if waits_until(entry) is not None:
        return 'schedule', 'warning', _('{ref}: waits — {reason}.', ref=entry.ref,
                                        reason=translate_text(entry.reason or ''))
    return 'hourglass_empty', 'grey-7', _('{ref}: queued', ref=entry.ref)


def summary_text(entries: list[ChannelRefEntry], merged: int = 0) -> tuple[str, datetime | None]:
    """What became of a paste, each outcome counted once, and when the last waiting line is expected."""
    counts = {state: sum(1 for e in entries if e.state == state) for state in RefState}
    new = sum(1 for e in entries if e.state == RefState.ADDED and e.created)
    parts = []
    if new:
        parts.append(n_('{n} added', '{n} added', new))
    if counts[RefState.ADDED] - new:
        parts.append(n_('{n} already here', '{n} already here', counts[RefState.ADDED] - new))
    if counts[RefState.QUEUED] or counts[RefState.RESOLVING]:
        parts.append(_('{count} in the queue', count=number(counts[RefState.QUEUED] + counts[RefState.RESOLVING])))
    if counts[RefState.NEEDS_JOIN]:
        parts.append(_('{count} to confirm', count=number(counts[RefState.NEEDS_JOIN])))
    if counts[RefState.ERROR]:
        parts.append(_('{count} failed', count=number(counts[RefState.ERROR])))
    if merged:
        parts.append(n_('{n} repeated line merged', '{n} repeated lines merged', merged))
    later = [at for at in map(waits_until, entries) if at is not None]
    text = ' · '.join(parts)
    if later:
        text += ' — ' + n_('{n} waiting; all expected by about', '{n} waiting; all expected by about', len(later))
    return text, max(later) if later else None


def repeated_lines(text: str) -> int:
    """How many lines of a paste repeat one above them (the queue takes each reference once)."""
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    return len(lines) - len(set(lines))


async def connected_accounts(root: Root) -> dict[str, str]:
    """The accounts that can work now: id → name (and @username)."""
    accounts = root.accounts
    usable = set(accounts.usable_account_ids())
    return {info.id: f'{info.display_name} (@{info.username})' if info.username else info.display_name
            for info in await accounts.list_accounts() if info.id in usable}


class AddChannels:
    """One textarea for many references; a line per reference that follows it through the queue."""

    def __init__(self, root: Root, on_change: Callable[[], Awaitable[None]]) -> None:
        self.root = root
        self.on_change = on_change
        self.batch: list[str] = []  # entry ids of the last paste
        self.shown: dict[str, tuple] = {}
        self.rows: dict[str, ui.row] = {}
        self.returned: set[str] = set()  # failed entries already put back in the box
        self.merged = 0  # repeated lines of the last paste
        with ui.card().classes('w-full gap-2').props('flat bordered'):
            ui.label(_('Add channels')).classes('text-lg font-medium')
            self.refs = ui.textarea(
                placeholder=_('One per line: @name, t.me/name, t.me/+invite, t.me/c/123/45, -100123…'),
            ).props('outlined autogrow').classes('w-full').mark('channel-refs')
            with ui.row().classes('items-center gap-4'):
                self.button = ui.button(_('Add'), icon='add', on_click=self.add).classes('add-channels-button') \
                    .mark('add-channels')
                # only worth a choice when several accounts could read it; by default the queue chooses
                self.account = ui.select({None: _('any connected account')}, value=None, label=_('Read through')) \
                    .props('dense outlined options-dense').classes('w-80 max-w-full').mark('add-account')
                self.account.set_visibility(False)
                self.buttons = ui.row().classes('items-center gap-2')  # more ways to add (a chat folder)
            with ui.row().classes('items-baseline gap-1 text-sm text-grey-8'):
                self.summary = ui.label().mark('add-summary')
                self.summary_until = RelativeTime(mode='clock').mark('add-summary-until')
            self.results = ui.column().classes('w-full gap-1').mark('add-results')
        self.timer = ui.timer(0.5, self.follow, active=False)

    async def load_accounts(self) -> None:
        """Offer the connected accounts as a choice once there is more than one."""
        options: dict[str | None, str] = {None: _('any connected account'), **await connected_accounts(self.root)}
        self.account.set_options(options, value=self.account.value if self.account.value in options else None)
        self.account.set_visibility(len(options) > 2)

    async def add(self) -> None:
        queue = self.root.add_queue
        assert queue is not None
        try:
            entries = await queue.submit(self.refs.value or '', account_id=self.account.value)
            merged = repeated_lines(self.refs.value or '')
        except ChannelError as error:
            self._clear()
            self.summary.set_text(translate_text(error.message))
            return
        if not entries:
            self._clear()
            self.summary.set_text(_('Paste at least one channel reference.'))
            return
        self.refs.value = ''
        await self.track(entries, merged=merged)

    async def restore(self) -> None:
        """The lines still in the queue (pasted before a reload or a restart, in another tab or through the API)
        are shown as if just pasted, so nothing queued is out of sight."""
        entries = await self.root.repos.channel_refs.unfinished(limit=MAX_SHOWN)
        if entries:
            await self.track(entries)

    async def track(self, entries: list[ChannelRefEntry], *, merged: int = 0) -> None:
        """Show these queued entries, each on its line, and follow them until every one is final."""
        self._clear()
        self.merged = merged
        self.batch = [entry.id for entry in entries]
        await self.show(entries)
        self.timer.activate()

    def _clear(self) -> None:
        self.results.clear()
        self.shown.clear()
        self.rows.clear()
        self.returned.clear()
        self.merged = 0
        self.summary.set_text('')
        self.summary_until.show(None)

    async def follow(self) -> None:
        """Show what changed in the last paste; stop following once every line is final."""
        if not self.batch:
            self.timer.deactivate()
            return
        entries = await self.root.repos.channel_refs.get_many(self.batch)
        await self.show(entries)
        if all(entry.state in FINAL for entry in entries):
            self.timer.deactivate()

    async def show(self, entries: list[ChannelRefEntry]) -> None:
        text, until = summary_text(entries, self.merged) if len(entries) > 1 or self.merged else ('', None)
        self.summary.set_text(text)
        self.summary_until.show(until)
        newly_added = False
        for entry in entries:
            signature = (entry.state, entry.reason, waits_until(entry), entry.title)
            if self.shown.get(entry.id) == signature:
                continue
            newly_added |= entry.state == RefState.ADDED
            self.shown[entry.id] = signature
            self._line(entry)
        self._return_failed(entries)
        if newly_added:
            await self.on_change()

    def _return_failed(self, entries: list[ChannelRefEntry]) -> None:
        """The lines that failed go back in the box, one per line, to be corrected and added again."""
        failed = [e for e in entries if e.state == RefState.ERROR and e.id not in self.returned]
        if not failed:
            return
        current = [line for line in (self.refs.value or '').split('\n') if line.strip()]
        back = [e.ref for e in entries if e.state == RefState.ERROR
                and (e.id not in self.returned or e.ref in current)]  # in the order pasted
        self.returned.update(e.id for e in failed)
        self.refs.value = '\n'.join(back + [line for line in current if line not in back])

    def _line(self, entry: ChannelRefEntry) -> None:
        row = self.rows.get(entry.id)
        if row is None:
            with self.results:
                row = self.rows[entry.id] = ui.row()
        row.clear()
        icon, color, text = entry_text(entry)
        marker = 'invite-preview' if entry.state == RefState.NEEDS_JOIN else 'add-result'
        with row.classes('items-center gap-2 no-wrap').mark(marker):
            ui.icon(icon, color=color)
            ui.label(text).classes(f'text-sm text-{color} min-w-0 pg-break')
            until = waits_until(entry)
            if until is not None:
                RelativeTime(until, mode='clock', template=_('expected about {time}')) \
                    .classes('text-sm text-grey-8 whitespace-nowrap').mark('add-result-until')
            if entry.state == RefState.NEEDS_JOIN:
                ui.button(_('Join'), on_click=lambda e=entry: self.join(e)).props('dense').mark('join-channel')

    async def join(self, entry: ChannelRefEntry) -> None:
        await self.root.add_queue.confirm_join(entry.id)
        if entry.id not in self.batch:
            self.batch.append(entry.id)
        self.timer.activate()
