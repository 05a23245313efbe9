"""Live updates: new, edited and deleted posts (and view counts) of stored channels arrive through Telethon events;
so do the comments in their discussion groups, for an account that is a member of the group."""
from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from loguru import logger
from telethon import TelegramClient, events, types, utils

from app.events import EventBus
from app.mtproto.mapping import comment_from_message, names_of, post_from_message

if TYPE_CHECKING:
    from app.db.repos import Repos


def bare_channel_id(chat_id: int | None) -> int | None:
    if chat_id is None:
        return None
    real_id, peer_type = utils.resolve_id(chat_id)
    return real_id if peer_type is types.PeerChannel else None


EARLY_THREADS_KEPT = 256


class LiveUpdates:
    """Attaches event handlers to each connected account's client and writes what they bring."""

    def __init__(self, repos: Repos, events: EventBus, *,
                 on_reconnect: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.repos = repos
        self.events = events
        self.on_reconnect = on_reconnect
        self._handlers: dict[str, tuple[TelegramClient, list[tuple[Callable, Any]]]] = {}
        self._reconnect_hooks: dict[str, tuple[Any, Any]] = {}
        # Telethon hands each update to its own task, so a comment can be handled before the group's copy of its
        # post that opens the thread: such comments wait here for it (per group, under one lock).
        self._group_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._early: OrderedDict[tuple[int, int], list[Any]] = OrderedDict()

    def attach(self, account_id: str, client: TelegramClient) -> None:
        self.detach(account_id)
        handlers: list[tuple[Callable, Any]] = [
            (self._on_message, events.NewMessage()),
            (self._on_edited, events.MessageEdited()),
            (self._on_deleted, events.MessageDeleted()),
            (self._on_raw, events.Raw(types.UpdateChannelMessageViews)),
        ]
        for callback, event in handlers:
            client.add_event_handler(callback, event)
        self._handlers[account_id] = (client, handlers)
        self._hook_reconnect(account_id, client)

    def _hook_reconnect(self, account_id: str, client: TelegramClient) -> None:
        # Telethon reconnects dropped connections by itself without telling anyone and does not fetch what was
        # missed meanwhile. Its sender calls this callback after each automatic reconnect; we chain onto it.
        sender = getattr(client, '_sender', None)
        if sender is None or not hasattr(sender, '_auto_reconnect_callback'):
            return
        original = sender._auto_reconnect_callback

        async def reconnected() -> None:
            if original is not None:
                await original()
            logger.info('account {} reconnected; catching up on missed posts', account_id)
            try:
                await client.catch_up()
            except Exception:  # the sync scheduled below catches up anyway
                logger.exception('catch-up after reconnect failed')
            if self.on_reconnect is not None:
                await self.on_reconnect(account_id)

        sender._auto_reconnect_callback = reconnected
        self._reconnect_hooks[account_id] = (sender, original)

    def detach(self, account_id: str) -> None:
        entry = self._handlers.pop(account_id, None)
        if entry is None:
            return
        client, handlers = entry
        for callback, event in handlers:
            client.remove_event_handler(callback, event)
        hook = self._reconnect_hooks.pop(account_id, None)
        if hook is not None:
            sender, original = hook
            sender._auto_reconnect_callback = original

    def detach_all(self) -> None:
        for account_id in list(self._handlers):
            self.detach(account_id)

    async def _known(self, channel_id: int | None) -> bool:
        return channel_id is not None and await self.repos.channels.get(channel_id) is not None

    async def _on_message(self, event: Any) -> None:
        await self._store(event)

    async def _on_edited(self, event: Any) -> None:
        await self._store(event)  # the writer tells an edit from a new post, or from a repeat of what it holds

    async def _store(self, event: Any) -> None:
        channel_id = bare_channel_id(event.chat_id)
        if channel_id is None:
            return
        if not await self._known(channel_id):
            await self._store_comment(event, channel_id)
            return
        post = post_from_message(event.message, channel_id)
        if post is None:
            return
        try:  # the post writer publishes what changed
            written = await self.repos.writer.store(channel_id, self.repos.posts.prepare([post]))
            if written.created:
                await self.repos.channels.set_state(channel_id, last_post_at=post.date)
        except Exception:  # a failed write must not break the client's update loop; the next sync repairs it
            logger.exception('live update of channel {} failed', channel_id)

    async def _store_comment(self, event: Any, group_id: int) -> None:
        """A message of a stored channel's discussion group: the opening of a post's thread (its copy of the post),
        noted, with any comment that came before it; or a comment in a thread whose post is known, stored."""
        channel = await self.repos.channels.by_discussion(group_id)
        message = event.message
        if channel is None or getattr(message, 'CONSTRUCTOR_ID', None) != types.Message.CONSTRUCTOR_ID:
            return
        try:
            async with self._group_locks[group_id]:
                forward = message.fwd_from
                source = getattr(forward, 'saved_from_peer', None) if forward is not None else None
                if getattr(source, 'channel_id', None) == channel.id and forward.saved_from_msg_id:
                    post_id = forward.saved_from_msg_id
                    await self.repos.comments.note_thread(group_id, message.id, channel.id, post_id)
                    for early in self._early.pop((group_id, message.id), []):
                        await self._write_comment(early, group_id, channel.id, post_id)
                    return
                header = message.reply_to
                thread_id = (header.reply_to_top_id or header.reply_to_msg_id) if header is not None else None
                if not thread_id:
                    return
                post = await self.repos.comments.post_of_thread(group_id, thread_id)
                if post is None:
                    self._wait_for_thread(group_id, thread_id, message)
                    return
                await self._write_comment(message, group_id, channel.id, post[1])
        except Exception:  # the next sync reads the thread again
            logger.exception('live comment in the discussion of channel {} failed', channel.id)

    async def _write_comment(self, message: Any, group_id: int, channel_id: int, post_id: int) -> None:
        sender = getattr(message, 'sender', None)
        names = names_of([sender] if sender is not None else [], [])
        comment = comment_from_message(message, channel_id, post_id, names)
        if comment is not None:
            await self.repos.comment_writer.store(group_id, self.repos.comments.prepare([comment]))

    def _wait_for_thread(self, group_id: int, thread_id: int, message: Any) -> None:
        """Keep a comment whose thread is not known yet until the thread's opening arrives. A thread that opened
        before this process watched never announces itself: the oldest waiting comments give way, and the next
        sync reads them."""
        self._early.setdefault((group_id, thread_id), []).append(message)
        self._early.move_to_end((group_id, thread_id))
        while len(self._early) > EARLY_THREADS_KEPT:
            self._early.popitem(last=False)

    async def _on_deleted(self, event: Any) -> None:
        channel_id = bare_channel_id(event.chat_id)
        if channel_id is None:
            return
        if not await self._known(channel_id):
            if await self.repos.channels.by_discussion(channel_id) is not None:
                try:
                    await self.repos.comment_writer.delete(channel_id, event.deleted_ids)
                except Exception:
                    logger.exception('live deletion of comments in group {} failed', channel_id)
            return
        try:
            await self.repos.writer.delete(channel_id, event.deleted_ids)
        except Exception:
            logger.exception('live deletion in channel {} failed', channel_id)

    async def _on_raw(self, update: Any) -> None:
        if isinstance(update, types.UpdateChannelMessageViews) and await self._known(update.channel_id):
            try:
                await self.repos.writer.views(update.channel_id, update.id, update.views)
            except Exception:
                logger.exception('live view count of channel {} failed', update.channel_id)
