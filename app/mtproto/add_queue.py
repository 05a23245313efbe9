"""AddQueue: pasted references become stored channels in the background, within every account's budgets.

Each reference is a `channel_refs` entry (queued → resolving → added / needs_join / error), so a paste of 300
links survives a restart and the page can show each line's state. One worker per account takes the oldest due
entry: a channel already stored goes to an account that can read it (no request at all), the rest to an account
with resolves left today and no FloodWait on resolving. When every account's budget is spent the queued entries
get the time their turn is expected, and wait.
"""
from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from loguru import logger

from app.clock import Clock
from app.db.channel_list import MAX_TAG_LENGTH, normalize_tag
from app.db.models import ChannelRefEntry, RefState
from app.db.repos import Repos
from app.events import ChannelChanged
from app.i18n import LazyText, lazy
from app.mtproto.channels import ChannelError, ChannelService, ClientProvider
from app.mtproto.limits import MethodClass, class_label
from app.mtproto.refs import UsernameRef, parse_refs

MAX_REFS_PER_PASTE = 1000
BUDGET_CODES = {'BUDGET_SPENT', 'FLOOD_WAIT'}
STOP_SECONDS = 10.0


class AddQueue:
    def __init__(self, *, repos: Repos, channels: ChannelService, accounts: ClientProvider | None,
                 idle_seconds: float = 5.0, clock: Clock | None = None) -> None:
        self.repos = repos
        self.channels = channels
        self.clock = clock or channels.clock
        self.accounts = accounts
        self.idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._busy: dict[str, asyncio.Task] = {}
        self._not_stored: set[str] = set()  # lines that named no stored channel when first looked up
        self._task: asyncio.Task | None = None
        self._seen_accounts: set[str] = set()
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        requeued = await self.repos.channel_refs.requeue_resolving()
        if requeued:
            logger.info('{} pasted references go back to the queue after a restart', requeued)
        self._task = asyncio.get_running_loop().create_task(self._run(), name='channel add queue')

    async def stop(self) -> None:
        self._stopping = True  # the worker ends at its next turn even if its cancellation is lost on the way
        self._wake.set()
        tasks = [t for t in (self._task, *self._busy.values()) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_SECONDS)
            for task in pending:
                logger.warning('{} did not stop within {} s; left behind', task.get_name(), STOP_SECONDS)
        self._task = None
        self._busy.clear()

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------ what people and the API call

    async def submit(self, text: str, *, account_id: str | None = None) -> list[ChannelRefEntry]:
        """Queue every line of a paste (duplicates once); a line that is not a reference is an error at once."""
        lines = parse_refs(text)
        if len(lines) > MAX_REFS_PER_PASTE:
            raise ChannelError(413, 'TOO_MANY_REFERENCES', lazy('{count} references in one paste; add at most {most} '
                                                                'at a time.', count=f'{len(lines):,}',
                                                                most=f'{MAX_REFS_PER_PASTE:,}'))
        fields = []
        for line in lines:
            try:
                ChannelService.parse(line)
                fields.append({'ref': line, 'account_id': account_id})
            except ChannelError as error:
                fields.append({'ref': line, 'state': RefState.ERROR, 'code': error.code, 'reason': error.message})
        entries = await self.repos.channel_refs.add_many(fields)
        self.wake()
        return entries

    async def import_folder(self, account_id: str, folder_id: int) -> list[ChannelRefEntry]:
        """Queue every channel of one of the account's chat folders, tagged with the folder's name. The account is
        a member of each and knows its access hash, so no username look-up or join is spent."""
        folder = next((f for f in await self.channels.folders(account_id) if f.id == folder_id), None)
        if folder is None:
            raise ChannelError(404, 'FOLDER_NOT_FOUND', lazy('This account has no chat folder {folder_id}; list its '
                                                             'folders again.', folder_id=folder_id))
        if not folder.channels:
            raise ChannelError(400, 'FOLDER_EMPTY', lazy('The folder “{title}” holds no channels.', title=folder.title))
        tags = [normalize_tag(folder.title[:MAX_TAG_LENGTH])] if folder.title.strip() else []
        entries = await self.repos.channel_refs.add_many([
            {'ref': f'-100{channel_id}', 'account_id': account_id, 'access_hash': access_hash, 'tags': tags}
            for channel_id, access_hash in folder.channels])
        self.wake()
        return entries

    async def confirm_join(self, entry_id: str) -> ChannelRefEntry | None:
        """A person confirmed an invite preview: queue the join."""
        entry = await self.repos.channel_refs.get(entry_id)
        if entry is None or entry.state != RefState.NEEDS_JOIN:
            return entry
        entry = await self.repos.channel_refs.update(entry_id, RefState.QUEUED, join=True, account_id=entry.worked_by,
                                                     retry_at=None, reason=None)
        self.wake()
        return entry

    # ------------------------------------------------------------ the worker

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._dispatch()
                timeout = await self._next_wake()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: try again shortly
                logger.exception('the add queue could not be read')
                timeout = self.idle_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _next_wake(self) -> float:
        retry_at = await self.repos.channel_refs.next_retry_at()
        if retry_at is None:
            return self.idle_seconds
        return min(self.idle_seconds, max(0.05, (retry_at - self.clock.now()).total_seconds()))

    def _usable(self) -> list[str]:
        return self.accounts.usable_account_ids() if self.accounts is not None else []

    async def _stored(self, entry: ChannelRefEntry) -> bool:
        """Whether a stored channel some account reads answers this line. Looked up once per line: a line that
        named no stored channel when first seen is not looked up again on every pass (a long paste would cost a
        database scan per line and pass)."""
        if entry.id in self._not_stored:
            return False
        try:
            known = await self.channels.known(ChannelService.parse(entry.ref))
        except ChannelError:
            known = None
        if known is not None and known.access_hashes:
            return True
        self._not_stored.add(entry.id)
        return False

    async def _choose(self, entry: ChannelRefEntry, free: list[str]) -> str | None:
        """The free account this entry should use now, or None when it has to wait."""
        candidates = [a for a in free if entry.account_id in (None, a)]
        if not candidates:
            return None
        if entry.access_hash is not None:  # a folder's channel: its own account reads it, no look-up needed
            return candidates[0] if self.channels.can_call(candidates[0], MethodClass.FULL_CHANNEL) else None
        parsed = ChannelService.parse(entry.ref)
        known = None if entry.id in self._not_stored else await self.channels.known(parsed)
        if known is not None:
            readers = [a for a in candidates if a in known.access_hashes]
            if readers:
                return readers[0]  # answered from the database: costs nothing
        able = [a for a in self.channels.able(ChannelService.look_up_kind(parsed)) if a in candidates
                and (not entry.join or self.channels.can_call(a, MethodClass.JOIN))]
        return able[0] if able else None

    async def _dispatch(self) -> None:
        usable = self._usable()
        if set(usable) - self._seen_accounts:  # a new account brings a fresh budget: the waiting go first
            await self.repos.channel_refs.clear_waits()
        self._seen_accounts = set(usable)
        free = [a for a in usable if a not in self._busy]
        offered = bool(free) or not usable
        limit = max(50, 10 * len(usable))
        due = await self.repos.channel_refs.due(self.clock.now(), limit=limit)
        waiting: list[ChannelRefEntry] = []
        for entry in due:
            if entry.account_id is None and await self._stored(entry):  # answered from the database: no account
                claimed = await self.repos.channel_refs.claim(entry.id, None)
                if claimed is not None:
                    await self._work(claimed, None)
                continue
            account_id = await self._choose(entry, free) if free else None
            if account_id is None:
                waiting.append(entry)
                continue
            claimed = await self.repos.channel_refs.claim(entry.id, account_id)
            if claimed is None:
                continue
            free.remove(account_id)
            # services run outside NiceGUI's loop in tests and tools: plain tasks, kept in _busy until done
            self._busy[account_id] = asyncio.get_running_loop().create_task(self._work(claimed, account_id),
                                                                            name=f'add {entry.ref}')
        # only when free accounts could take none of them: an account that came free while this pass awaited the
        # database was not offered them, and scheduling them now would let the lines behind them go first
        if waiting and offered and not self._busy:
            await self._schedule(waiting, usable)
            if len(due) == limit:
                self.wake()  # more lines behind these may need no budget at all: look at them next

    async def _schedule(self, waiting: list[ChannelRefEntry], usable: list[str]) -> None:
        """No account can take these now: give each the time its turn is expected, and the true reason why."""
        if not usable:
            for entry in waiting:
                await self.repos.channel_refs.set_retry_at(
                    entry.id, self.clock.now() + timedelta(seconds=self.idle_seconds),
                    lazy('waiting for a connected account: log one in on the Accounts page'))
            return
        # the entries already given a later time are ahead in line: these take the slots after theirs
        ahead = await self.repos.channel_refs.count_waiting(self.clock.now(), exclude=[e.id for e in waiting])
        soonest = self.clock.now() + timedelta(seconds=self.idle_seconds)
        by_kind: dict[MethodClass, list[ChannelRefEntry]] = {}
        for entry in waiting:
            by_kind.setdefault(_look_up_kind(entry), []).append(entry)
        for kind, entries in by_kind.items():
            slots = self._free_slots(usable, ahead + len(entries), kind)[ahead:]
            for entry, (at, reason) in zip(entries, slots, strict=False):
                await self.repos.channel_refs.set_retry_at(entry.id, max(at, soonest), reason)

    def _free_slots(self, usable: list[str], count: int, kind: MethodClass) -> list[tuple[datetime, LazyText]]:
        """When the next `count` requests of `kind` fit, over every account, and what holds each back: a FloodWait
        Telegram asked for, the account's spent daily budget, or only the lines ahead of it."""
        assert self.accounts is not None
        now = self.clock.now()
        slots: list[tuple[datetime, LazyText]] = []
        for account_id in usable:
            name = self.accounts.name(account_id)
            until = self.accounts.flood_wait_until(account_id, kind)
            for at in self.channels.limiter.free_times(account_id, kind, count):
                if until is not None and until > now and until >= at:
                    slots.append((until, lazy('Telegram asked {account} to wait (FLOOD_WAIT) before more {kind} '
                                              'requests', account=name, kind=class_label(kind))))
                elif at > now + timedelta(seconds=1):
                    slots.append((at, lazy("{account} has used today's {kind} requests", account=name,
                                           kind=class_label(kind))))
                else:
                    slots.append((at, lazy('waiting for its turn behind the lines ahead')))
        return sorted(slots, key=lambda slot: slot[0])[:count]

    async def _work(self, entry: ChannelRefEntry, account_id: str | None) -> None:
        refs = self.repos.channel_refs
        try:
            if entry.account_id is None and not isinstance(ChannelService.parse(entry.ref), UsernameRef):
                acting = None  # a private link: the rule tries the accounts that may be members first
            else:
                acting = account_id
            result = await self.channels.add(entry.ref, account_id=acting, join=entry.join,
                                             access_hash=entry.access_hash if account_id == entry.account_id else None)
            if not result.needs_join and entry.tags:
                await self.repos.channels.add_tags([result.channel.id], entry.tags)
                self.channels.events.publish(ChannelChanged(channel_id=result.channel.id))
        except ChannelError as error:
            if error.code in BUDGET_CODES:  # this account is out of budget: another may take it, or later
                logger.info('{} waits: {}', entry.ref, error.message)
                # due again in a second: by then the spent account is passed over and the line waits its turn
                await refs.update(entry.id, RefState.QUEUED, worked_by=None, reason=error.message,
                                  retry_at=self.clock.now() + timedelta(seconds=1))
            else:
                await refs.update(entry.id, RefState.ERROR, code=error.code, reason=error.message, retry_at=None)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - keep the queue going; the entry says what happened
            logger.exception('adding {} failed', entry.ref)
            await refs.update(entry.id, RefState.ERROR, code='INTERNAL',
                              reason=lazy('Adding failed: {error}. Try again.', error=error))
        else:
            if result.needs_join:
                preview = result.preview
                await refs.update(entry.id, RefState.NEEDS_JOIN, title=preview.title,
                                  participants_count=preview.participants_count, retry_at=None, reason=None)
            else:
                channel = result.channel
                await refs.update(entry.id, RefState.ADDED, channel_id=channel.id, title=channel.title,
                                  created=result.created, retry_at=None, reason=None)
        finally:
            self._busy.pop(account_id, None)
            self.wake()


def _look_up_kind(entry: ChannelRefEntry) -> MethodClass:
    try:
        return ChannelService.look_up_kind(ChannelService.parse(entry.ref))
    except ChannelError:
        return MethodClass.RESOLVE

