"""Live updates: new, edited and deleted posts (and view counts) of stored channels arrive through Telethon events."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from loguru import logger
from telethon import TelegramClient, events, types, utils

from app.events import EventBus
from app.mtproto.mapping import post_from_message

if TYPE_CHECKING:
    from app.db.repos import Repos


def bare_channel_id(chat_id: int | None) -> int | None:
    if chat_id is None:
        return None
    real_id, peer_type = utils.resolve_id(chat_id)
    return real_id if peer_type is types.PeerChannel else None


class LiveUpdates:
    """Attaches event handlers to each connected account's client and writes what they bring."""

    def __init__(self, repos: Repos, events: EventBus, *,
                 on_reconnect: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.repos = repos
        self.events = events
        self.on_reconnect = on_reconnect
        self._handlers: dict[str, tuple[TelegramClient, list[tuple[Callable, Any]]]] = {}
        self._reconnect_hooks: dict[str, tuple[Any, Any]] = {}

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
        if channel_id is None or not await self._known(channel_id):
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

    async def _on_deleted(self, event: Any) -> None:
        channel_id = bare_channel_id(event.chat_id)
        if channel_id is None or not await self._known(channel_id):
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
