"""ChannelService: resolve channel references, preview and join invites, store and refresh channel metadata.

Every failure is a `ChannelError` with the HTTP status and code the API answers and the page shows:
malformed → 400, no such channel → 404, private and not joined → 403, a user or group instead of a channel → 400.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger
from telethon import TelegramClient, errors, functions, types

from app.clock import Clock, SystemClock
from app.db.models import Channel, Metric, MetricKind
from app.events import ChannelChanged, EventBus
from app.i18n import duration, lazy
from app.mtproto.errors import ServiceError
from app.mtproto.limits import MAX_CHANNELS_PER_ACCOUNT, BudgetSpent, MethodClass, RequestLimiter, class_label
from app.mtproto.mapping import channel_from_tl, photo_data_url
from app.mtproto.refs import ChannelIdRef, ChannelRef, InviteRef, RefError, UsernameRef, parse_ref

if TYPE_CHECKING:
    from app.db.repos import Repos


class ClientProvider(Protocol):
    """What ChannelService needs from the AccountManager."""

    def usable_account_ids(self) -> list[str]: ...

    def client(self, account_id: str) -> TelegramClient | None: ...

    def flood_wait_until(self, account_id: str, kind: str | None = None) -> datetime | None: ...

    def name(self, account_id: str) -> str: ...


@dataclass(frozen=True)
class Folder:
    """One of an account's chat folders: its channels as (id, the account's access hash)."""
    id: int
    title: str
    emoticon: str | None
    channels: tuple[tuple[int, int], ...]


class ChannelError(ServiceError):
    """A channel could not be resolved, added or synced."""


@dataclass
class InvitePreview:
    title: str
    participants_count: int | None
    about: str | None = None
    photo: str | None = None
    broadcast: bool = True


@dataclass
class AddResult:
    """Either the stored channel (`created` False when it was already there) or an invite preview to confirm."""

    ref: str
    channel: Channel | None = None
    created: bool = False
    preview: InvitePreview | None = None

    @property
    def needs_join(self) -> bool:
        return self.channel is None and self.preview is not None


def _not_a_channel(chat: Any, ref: Any) -> ChannelError | None:
    if isinstance(chat, types.User):
        return ChannelError(400, 'NOT_A_CHANNEL', lazy('{ref} is a user, not a channel.', ref=ref))
    if isinstance(chat, (types.Chat, types.ChatForbidden)) or getattr(chat, 'megagroup', False):
        return ChannelError(400, 'NOT_A_CHANNEL', lazy('{ref} is a group, not a channel.', ref=ref))
    if isinstance(chat, types.ChannelForbidden):
        return ChannelError(403, 'CHANNEL_PRIVATE', lazy('{ref} is private and this account cannot read it.', ref=ref))
    if not isinstance(chat, types.Channel):
        return ChannelError(400, 'NOT_A_CHANNEL', lazy('{ref} is not a channel.', ref=ref))
    return None


def not_configured_error() -> ChannelError:
    return ChannelError(503, 'TELEGRAM_NOT_CONFIGURED', lazy('Telegram is not configured on this server.'))


def no_account_error() -> ChannelError:
    return ChannelError(409, 'NO_ACCOUNT', lazy('No Telegram account is connected. Log one in on the Accounts page.'))


def account_unavailable_error() -> ChannelError:
    return ChannelError(409, 'ACCOUNT_UNAVAILABLE', lazy('That account is not connected right now.'))


def flood_wait_error(seconds: int, kind: MethodClass | None = None) -> ChannelError:
    what = lazy('{kind} request', kind=class_label(kind)) if kind is not None \
        else lazy('request of this kind')
    return ChannelError(429, 'FLOOD_WAIT', lazy('Telegram asked this account to wait {seconds} s before its next '
                                                '{what}; try then, or with another account.',
                                                seconds=seconds, what=what), retry_after=seconds)


def map_rpc_error(error: Exception, ref: Any) -> ChannelError:
    """Telethon errors met while resolving or reading a channel → ChannelError."""
    if isinstance(error, ChannelError):
        return error
    if isinstance(error, BudgetSpent):
        wait = max(1, int(error.retry_in))
        return ChannelError(429, 'BUDGET_SPENT',
                            lazy("This account has used today's {kind} requests; {ref} can be added after {time} "
                                 'UTC, or with another account.',
                                 kind=class_label(error.kind), ref=ref, time=f'{error.retry_at:%H:%M}'),
                            retry_after=wait)
    if isinstance(error, errors.FloodWaitError):
        return flood_wait_error(error.seconds, getattr(error, 'kind', None))
    if isinstance(error, (errors.UsernameNotOccupiedError, errors.UsernameInvalidError)):
        return ChannelError(404, 'CHANNEL_NOT_FOUND', lazy('No channel is called {ref}.', ref=ref))
    if isinstance(error, (errors.InviteHashExpiredError, errors.InviteHashInvalidError,
                          errors.InviteHashEmptyError)):
        return ChannelError(404, 'INVITE_INVALID', lazy('The invite link {ref} is invalid or has expired.', ref=ref))
    if isinstance(error, errors.InviteRequestSentError):
        return ChannelError(403, 'JOIN_REQUEST_SENT',
                            lazy('{ref} needs an admin to approve the join request; add it again once approved.',
                                 ref=ref))
    if isinstance(error, (errors.ChannelPrivateError, errors.ChannelInvalidError, errors.ChannelPublicGroupNaError)):
        return ChannelError(403, 'CHANNEL_PRIVATE', lazy('{ref} is private and this account has not joined it.',
                                                         ref=ref))
    if isinstance(error, errors.ChannelsTooMuchError):
        return ChannelError(409, 'CHANNELS_TOO_MUCH', lazy('Telegram says this account is in too many channels to '
                                                           'join another; leave one in Telegram, or join {ref} with '
                                                           'another account.', ref=ref))
    if isinstance(error, errors.RPCError):
        return ChannelError(502, error.message or 'TELEGRAM_ERROR', lazy('Telegram refused {ref}: {message}.',
                                                                         ref=ref, message=error.message))
    return ChannelError(502, 'TELEGRAM_ERROR', lazy('Telegram could not be reached for {ref}: {error}.',
                                                    ref=ref, error=error))


class ChannelService:
    def __init__(self, *, repos: Repos, accounts: ClientProvider | None = None,
                 limiter: RequestLimiter | None = None, events: EventBus | None = None) -> None:
        self.repos = repos
        self.accounts = accounts
        self.clock: Clock = getattr(accounts, 'clock', None) or SystemClock()  # the accounts' clock tells waits
        door = getattr(accounts, 'door', None)
        # the pacing of every request is the door's; a limiter given here (a test's) becomes the door's
        self.limiter = limiter or (door.limiter if door is not None else RequestLimiter())
        if door is not None:
            door.limiter = self.limiter
        self.events = events or EventBus()
        # Called after a channel is stored for the first time (the SyncService starts its backfill).
        self.on_added: list[Callable[[Channel], Awaitable[None]]] = []

    async def start(self) -> None:
        """Count the resolves made before a restart in today's budget, as Telegram still does."""
        for kind, budget in self.limiter.budgets.items():
            if budget.per_day is not None:
                for account_id, times in (await self.repos.accounts.day_calls(kind.value)).items():
                    self.limiter.restore(account_id, kind, times)

    async def stop(self) -> None:
        pass

    # ------------------------------------------------------------ the account to use

    def pick_account(self, account_id: str | None = None, channel: Channel | None = None
                     ) -> tuple[str, TelegramClient]:
        if self.accounts is None:
            raise not_configured_error()
        usable = self.accounts.usable_account_ids()
        if account_id is not None:
            if account_id not in usable:
                raise account_unavailable_error()
            return account_id, self._client(account_id)
        preferred = [a for a in usable if channel is not None and a in channel.access_hashes] + usable
        for candidate in preferred:
            client = self.accounts.client(candidate)
            if client is not None:
                return candidate, client
        raise no_account_error()

    def able(self, kind: MethodClass, channel: Channel | None = None, *, load: Callable[[str], int] | None = None,
             prefer: str | None = None) -> list[str]:
        """The one rule for which account makes a `kind` request now: connected and authorised, not waiting on
        that class, budget left today. In order: those holding the channel's access hash (they spend no look-up),
        the least loaded (`load`: an account's running jobs), `prefer` (the account that read it last), the most
        budget left."""
        if self.accounts is None:
            return []
        able = [a for a in self.accounts.usable_account_ids() if self.can_call(a, kind)]
        return sorted(able, key=lambda a: (channel is None or a not in channel.access_hashes,
                                           load(a) if load is not None else 0, a != prefer,
                                           -(self.limiter.left_today(a, kind) or 0)))

    def none_able(self, kind: MethodClass) -> ChannelError:
        """Why no account can make a `kind` request now, and when the first one can."""
        if self.accounts is None or not self.accounts.usable_account_ids():
            return no_account_error()
        now = self.clock.now()
        soonest = []
        for account_id in self.accounts.usable_account_ids():
            until = self.accounts.flood_wait_until(account_id, kind)
            free = self.limiter.free_times(account_id, kind, 1)[0]
            soonest.append((max(until or now, free), until is not None and until >= free, account_id))
        at, flood, first = min(soonest)
        seconds = max(1, round((at - now).total_seconds()))
        name = self.accounts.name(first)
        if flood:
            return ChannelError(429, 'FLOOD_WAIT', lazy('Telegram asked every connected account to wait before its '
                                                        'next {kind} request; the first, {name}, can make one in '
                                                        '{wait}. Try then, or log in another account.',
                                                        kind=class_label(kind), name=name, wait=duration(seconds)),
                                retry_after=seconds)
        return ChannelError(429, 'BUDGET_SPENT', lazy("Every connected account has used today's {kind} requests; the "
                                                      'first, {name}, can make one after {time} UTC. Or log in '
                                                      'another account.', kind=class_label(kind), name=name,
                                                      time=f'{at:%H:%M}'), retry_after=seconds)

    async def _with_any_account(self, ref: str, parsed: ChannelRef, known: Channel | None, *, join: bool
                                ) -> AddResult:
        """Add with whichever account the rule picks. A private channel or an invite is tried with each account
        in turn before any of them joins: an account that is already a member reads it with no join."""
        kind = self.look_up_kind(parsed)
        candidates = self.able(kind, known)
        if not candidates:
            raise self.none_able(kind)
        if isinstance(parsed, UsernameRef):
            return await self._add(self._client(candidates[0]), candidates[0], ref, parsed, known, join=join)
        preview: AddResult | None = None
        refused: ChannelError | None = None
        for account_id in candidates:
            try:
                result = await self._add(self._client(account_id), account_id, ref, parsed, known, join=False)
            except ChannelError as error:
                if error.code != 'CHANNEL_PRIVATE':
                    raise
                refused = refused or error
                continue
            if not result.needs_join:
                return result
            preview = preview or result
        if preview is None:
            raise refused or no_account_error()
        if not join:
            return preview
        joiners = [a for a in self.able(MethodClass.JOIN) if self.can_call(a, MethodClass.RESOLVE)]
        if not joiners:
            raise self.none_able(MethodClass.JOIN)
        return await self._add(self._client(joiners[0]), joiners[0], ref, parsed, known, join=True)

    @staticmethod
    def look_up_kind(parsed: ChannelRef) -> MethodClass:
        """The class of request that finds a channel not yet stored: a `-100…` id is looked for among the
        account's dialogs, a username or an invite is looked up."""
        return MethodClass.DIALOGS if isinstance(parsed, ChannelIdRef) else MethodClass.RESOLVE

    def _client(self, account_id: str) -> TelegramClient:
        client = self.accounts.client(account_id) if self.accounts is not None else None
        if client is None:
            raise account_unavailable_error()
        return client

    # ------------------------------------------------------------ adding

    async def add(self, ref: str, *, account_id: str | None = None, join: bool = False,
                  access_hash: int | None = None) -> AddResult:
        """Add a channel by reference; `access_hash` (the account's own, e.g. from its chat folders) spares a
        look-up for a `-100…` id. A stored channel some account reads is answered from the database."""
        parsed = self.parse(ref)
        known = await self.known(parsed)
        if known is not None and known.access_hashes and (account_id is None or account_id in known.access_hashes):
            return AddResult(ref=ref, channel=known)  # stored and readable: no request at all
        if account_id is None and access_hash is None:
            if self.accounts is None:
                raise not_configured_error()
            return await self._with_any_account(ref, parsed, known, join=join)
        account_id, client = self.pick_account(account_id, known)
        return await self._add(client, account_id, ref, parsed, known, join=join, access_hash=access_hash)

    @staticmethod
    def parse(ref: str) -> ChannelRef:
        try:
            return parse_ref(ref)
        except RefError as error:
            raise ChannelError(400, 'BAD_REFERENCE', str(error)) from None

    async def add_with_client(self, client: TelegramClient, account_id: str, ref: str, *,
                              join: bool = False) -> AddResult:
        parsed = self.parse(ref)
        return await self._add(client, account_id, ref, parsed, await self.known(parsed), join=join)

    async def _add(self, client: TelegramClient, account_id: str, ref: str, parsed: ChannelRef,
                   known: Channel | None, *, join: bool, access_hash: int | None = None) -> AddResult:
        if known is not None and account_id in known.access_hashes:
            return AddResult(ref=ref, channel=known)  # stored and readable by this account: no request at all
        try:
            if isinstance(parsed, InviteRef):
                found = await self._from_invite(client, account_id, parsed, join=join)
                if isinstance(found, InvitePreview):
                    return AddResult(ref=ref, preview=found)
                chat, joined = found
            elif isinstance(parsed, UsernameRef):
                chat, joined = await self._from_username(client, account_id, parsed), False
            else:
                chat, joined = await self._from_id(client, account_id, parsed, access_hash), False
            channel, created = await self.store(client, account_id, chat)
        except Exception as error:  # noqa: BLE001 - every Telegram failure becomes a ChannelError
            raise map_rpc_error(error, parsed) from None
        if isinstance(parsed, InviteRef):
            await self.repos.channels.add_invite_hash(channel.id, parsed.hash)
        if joined or not getattr(chat, 'left', True):
            await self.repos.channels.add_joined(channel.id, account_id=account_id)
            channel = await self.repos.channels.get(channel.id) or channel
        if created:
            logger.info('channel {} ({}) added', channel.id, channel.title)
            for callback in self.on_added:
                await callback(channel)
            channel = await self.repos.channels.get(channel.id) or channel  # with the job that was just queued
        self.events.publish(ChannelChanged(channel_id=channel.id, added=created))
        return AddResult(ref=ref, channel=channel, created=created)

    def can_call(self, account_id: str, kind: MethodClass) -> bool:
        """No FloodWait on this class and, where Telegram counts a day, some of today's budget left."""
        waiting = self.accounts is not None and self.accounts.flood_wait_until(account_id, kind) is not None
        return not waiting and self.limiter.left_today(account_id, kind) != 0

    async def known(self, parsed: ChannelRef) -> Channel | None:
        if isinstance(parsed, ChannelIdRef):
            return await self.repos.channels.get(parsed.channel_id)
        if isinstance(parsed, UsernameRef):
            return await self.repos.channels.by_username(parsed.username)
        if isinstance(parsed, InviteRef):
            return await self.repos.channels.by_invite_hash(parsed.hash)
        return None

    async def _from_username(self, client: TelegramClient, account_id: str, ref: UsernameRef) -> types.Channel:
        resolved = await client(functions.contacts.ResolveUsernameRequest(username=ref.username))
        peer = resolved.peer
        if isinstance(peer, types.PeerUser):
            raise ChannelError(400, 'NOT_A_CHANNEL', lazy('{ref} is a user, not a channel.', ref=ref))
        wanted = peer.channel_id if isinstance(peer, types.PeerChannel) else getattr(peer, 'chat_id', None)
        chat = next((c for c in resolved.chats if c.id == wanted), None)
        problem = _not_a_channel(chat, ref)
        if problem:
            raise problem
        return chat

    async def _from_invite(self, client: TelegramClient, account_id: str, ref: InviteRef, *,
                           join: bool) -> InvitePreview | tuple[types.Channel, bool]:
        invite = await client(functions.messages.CheckChatInviteRequest(hash=ref.hash))
        if isinstance(invite, (types.ChatInviteAlready, types.ChatInvitePeek)):
            problem = _not_a_channel(invite.chat, ref)
            if problem:
                raise problem
            return invite.chat, False
        if not invite.channel or invite.megagroup or not invite.broadcast:
            raise ChannelError(400, 'NOT_A_CHANNEL', lazy('{ref} invites to a group, not a channel.', ref=ref))
        if not join:
            return InvitePreview(title=invite.title, participants_count=invite.participants_count,
                                 about=getattr(invite, 'about', None), photo=photo_data_url(invite.photo),
                                 broadcast=True)
        joined = await self.repos.channels.count_joined(account_id)
        if joined >= MAX_CHANNELS_PER_ACCOUNT:
            raise ChannelError(409, 'CHANNELS_TOO_MUCH', lazy('This account is already in {joined} channels, '
                                                              "Telegram's limit is {limit}; leave one in Telegram, "
                                                              'or join {ref} with another account.',
                                                              joined=joined, limit=MAX_CHANNELS_PER_ACCOUNT, ref=ref))
        try:
            updates = await client(functions.messages.ImportChatInviteRequest(hash=ref.hash))
            chats = getattr(updates, 'chats', [])
        except errors.UserAlreadyParticipantError:
            again = await client(functions.messages.CheckChatInviteRequest(hash=ref.hash))
            chats = [getattr(again, 'chat', None)]
        chat = next((c for c in chats if isinstance(c, types.Channel)), None)
        problem = _not_a_channel(chat, ref)
        if problem:
            raise problem
        return chat, True

    async def _from_id(self, client: TelegramClient, account_id: str, ref: ChannelIdRef,
                       access_hash: int | None = None) -> types.Channel:
        stored = await self.repos.channels.get(ref.channel_id)
        if access_hash is None and stored is not None:
            access_hash = stored.access_hashes.get(account_id)
        if access_hash is not None:
            input_channel = types.InputChannel(ref.channel_id, access_hash)
            result = await client(functions.channels.GetChannelsRequest(id=[input_channel]))
            chat = next((c for c in result.chats if c.id == ref.channel_id), None)
        else:  # every page of the walk is one dialogs request through the door
            chat = await self._from_dialogs(client, ref.channel_id)
        if chat is None:
            raise ChannelError(403, 'CHANNEL_PRIVATE',
                               lazy('{ref} is not a channel this account has joined (t.me/c/ links open only for '
                                    'members).', ref=ref))
        problem = _not_a_channel(chat, ref)
        if problem:
            raise problem
        return chat

    @staticmethod
    async def _from_dialogs(client: TelegramClient, channel_id: int) -> types.Channel | None:
        async for dialog in client.iter_dialogs():
            entity = dialog.entity
            if isinstance(entity, (types.Channel, types.ChannelForbidden)) and entity.id == channel_id:
                return entity
        return None

    # ------------------------------------------------------------ metadata

    async def store(self, client: TelegramClient, account_id: str, chat: types.Channel) -> tuple[Channel, bool]:
        """Fetch the full channel, store its metadata and access hash, and record a subscriber snapshot."""
        full = await client(functions.channels.GetFullChannelRequest(
            channel=types.InputChannel(chat.id, chat.access_hash)))
        fresh = next((c for c in full.chats if c.id == chat.id), chat)
        metadata = channel_from_tl(fresh, full.full_chat)
        channel, created = await self.repos.channels.upsert_metadata(
            metadata, account_id=account_id, access_hash=fresh.access_hash or chat.access_hash)
        if channel.participants_count is not None:
            await self.repos.metrics.add(Metric(kind=MetricKind.CHANNEL, channel_id=channel.id,
                                                values={'subscribers': channel.participants_count}))
        return channel, created

    async def refresh(self, client: TelegramClient, account_id: str, channel: Channel) -> Channel:
        """Re-read metadata with the stored access hash (done on every sync)."""
        try:
            chat = types.Channel(id=channel.id, title=channel.title, photo=types.ChatPhotoEmpty(), date=None,
                                 access_hash=channel.access_hashes[account_id])
            refreshed, _ = await self.store(client, account_id, chat)
            self.events.publish(ChannelChanged(channel_id=channel.id))
            return refreshed
        except (errors.ChannelInvalidError, errors.FloodWaitError):
            raise  # the stored access hash: the caller resolves the channel again; a FloodWait: the job waits
        except Exception as error:  # noqa: BLE001
            raise map_rpc_error(error, f'channel {channel.title or channel.id}') from None

    async def reresolve(self, client: TelegramClient, account_id: str, channel: Channel) -> Channel:
        """Telegram called this account's stored access hash invalid: look the username up once more."""
        if not channel.username:
            raise ChannelError(403, 'CHANNEL_INVALID', lazy("Telegram no longer accepts this account's access to "
                                                            '{channel}, and a private channel cannot be looked up '
                                                            'again; add it again by its invite link.',
                                                            channel=channel.title or channel.id))
        ref = UsernameRef(channel.username)
        try:
            chat = await self._from_username(client, account_id, ref)
            if chat.id != channel.id:
                raise ChannelError(409, 'USERNAME_MOVED', lazy('{ref} now names another channel; “{title}” is kept '
                                                               'with the posts stored so far.',
                                                               ref=ref, title=channel.title))
            stored, _ = await self.store(client, account_id, chat)
        except Exception as error:  # noqa: BLE001
            raise map_rpc_error(error, ref) from None
        logger.info('channel {} resolved again for account {}', channel.id, account_id)
        return stored

    def input_channel(self, channel: Channel, account_id: str) -> types.InputChannel:
        access_hash = channel.access_hashes.get(account_id)
        if access_hash is None:
            raise ChannelError(403, 'NO_ACCESS', lazy('This account has no access to {channel}.',
                                                      channel=channel.title or channel.id))
        return types.InputChannel(channel.id, access_hash)

    async def folders(self, account_id: str) -> list[Folder]:
        """The account's chat folders and the channels in each (with its access hashes: no look-ups needed)."""
        account_id, client = self.pick_account(account_id)
        try:
            answer = await client(functions.messages.GetDialogFiltersRequest())
        except Exception as error:  # noqa: BLE001 - every Telegram failure becomes a ChannelError
            raise map_rpc_error(error, 'chat folders') from None
        found = []
        for item in getattr(answer, 'filters', answer):
            if not isinstance(item, types.DialogFilter | types.DialogFilterChatlist):
                continue  # "All chats"
            title = item.title.text if isinstance(item.title, types.TextWithEntities) else str(item.title)
            peers = [*item.pinned_peers, *item.include_peers]
            channels = tuple(dict.fromkeys((peer.channel_id, peer.access_hash) for peer in peers
                                           if isinstance(peer, types.InputPeerChannel)))
            found.append(Folder(id=item.id, title=title, emoticon=item.emoticon, channels=channels))
        return found

    async def delete(self, channel_id: int, *, keep_files: bool = True) -> bool:
        """Remove the channel and what Parsegram stored of it; its kept files stay unless `keep_files` is False (a
        file another channel's post shows stays anyway)."""
        found = await self.repos.channels.delete(channel_id)
        await self.repos.media.drop_channel(channel_id, keep_files=keep_files)
        await self.repos.media.forget_job(channel_id)
        await self.repos.posts.delete_channel(channel_id=channel_id)
        await self.repos.versions.delete_channel(channel_id=channel_id)
        await self.repos.writer.forget_channel(channel_id)
        await self.repos.completeness.delete_channel(channel_id=channel_id)
        await self.repos.metrics.delete_channel(channel_id=channel_id)
        await self.repos.jobs.delete_channel(channel_id=channel_id)
        self.events.publish(ChannelChanged(channel_id=channel_id, deleted=True))
        return found
