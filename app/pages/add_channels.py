"""The 'Add channels' box: a paste becomes queued references, each shown with its state until it is added.

The AddQueue does the work in the background (within every account's budgets); this box shows each line as
queued, resolving, added, an invite to confirm, or its error, and puts the lines that failed back in the box.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from nicegui import ui

from app.db.models import ChannelRefEntry, RefState, utcnow
from app.i18n import _, n_, number, translate_text
from app.mtproto.channels import ChannelError

if TYPE_CHECKING:
    from app.root import Root

FINAL = (RefState.ADDED, RefState.ERROR)


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
    if entry.retry_at is not None and entry.reason and (entry.retry_at - utcnow()).total_seconds() > 60:
        return 'schedule', 'warning', f'{entry.ref}: {translate_text(entry.reason)}'
    return 'hourglass_empty', 'grey-7', _('{ref}: queued', ref=entry.ref)


def summary_text(entries: list[ChannelRefEntry]) -> str:
    counts = {state: sum(1 for e in entries if e.state == state) for state in RefState}
    parts = [_('{count} added', count=number(counts[RefState.ADDED]))]
    if counts[RefState.QUEUED] or counts[RefState.RESOLVING]:
        parts.append(_('{count} in the queue', count=number(counts[RefState.QUEUED] + counts[RefState.RESOLVING])))
    if counts[RefState.NEEDS_JOIN]:
        parts.append(_('{count} to confirm', count=number(counts[RefState.NEEDS_JOIN])))
    if counts[RefState.ERROR]:
        parts.append(_('{count} failed', count=number(counts[RefState.ERROR])))
    later = [e.retry_at for e in entries if e.state == RefState.QUEUED and e.retry_at is not None
             and (e.retry_at - utcnow()).total_seconds() > 60]
    text = ' · '.join(parts)
    if later:
        text += _(' — {count} waiting for the daily resolve budget; all done by about {when} UTC',
                  count=number(len(later)), when=f'{max(later):%Y-%m-%d %H:%M}')
    return text


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
            self.summary = ui.label().classes('text-sm text-grey-8').mark('add-summary')
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
        except ChannelError as error:
            self._clear()
            self.summary.set_text(translate_text(error.message))
            return
        if not entries:
            self._clear()
            self.summary.set_text(_('Paste at least one channel reference.'))
            return
        self.refs.value = ''
        await self.track(entries)

    async def track(self, entries: list[ChannelRefEntry]) -> None:
        """Show these queued entries, each on its line, and follow them until every one is final."""
        self._clear()
        self.batch = [entry.id for entry in entries]
        await self.show(entries)
        self.timer.activate()

    def _clear(self) -> None:
        self.results.clear()
        self.shown.clear()
        self.rows.clear()
        self.returned.clear()
        self.summary.set_text('')

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
        self.summary.set_text(summary_text(entries) if len(entries) > 1 else '')
        newly_added = False
        for entry in entries:
            signature = (entry.state, entry.reason, entry.retry_at, entry.title)
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
            if entry.state == RefState.NEEDS_JOIN:
                ui.button(_('Join'), on_click=lambda e=entry: self.join(e)).props('dense').mark('join-channel')

    async def join(self, entry: ChannelRefEntry) -> None:
        await self.root.add_queue.confirm_join(entry.id)
        if entry.id not in self.batch:
            self.batch.append(entry.id)
        self.timer.activate()
