"""Downloading a post's file from Telegram into the kept media (app.db.media_repo).

A file comes in parts of PART_BYTES (`upload.getFile`, paced through the door as `files`); each part is stored as
it arrives, so a download stopped by a restart goes on after its last stored part. An expired file reference
(FILE_REFERENCE_EXPIRED) is renewed by reading the message again (`channels.getMessages`), once per download. A
Telegram file already kept for another post is linked, not downloaded again; bytes already kept under the same
SHA-256 are kept once.
"""
from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING, Any

from loguru import logger
from telethon import errors
from telethon.tl import functions, types

from app.db.media_repo import PART_BYTES, KeptFile, link_key
from app.db.models import Channel, MediaFile, Post
from app.events import ChannelChanged
from app.i18n import lazy
from app.mtproto.channels import flood_wait_error
from app.mtproto.errors import ServiceError
from app.mtproto.jobs import messages_by_id
from app.mtproto.limits import MethodClass
from app.mtproto.mapping import media_file_of

if TYPE_CHECKING:
    from telethon import TelegramClient

    from app.db.repos import Repos
    from app.events import EventBus
    from app.mtproto.channels import ChannelService


class MediaError(ServiceError):
    """A post's file could not be kept or served."""


def no_media_error() -> MediaError:
    return MediaError(404, 'NO_MEDIA', lazy('This post has no file to download (only photos, videos, audio and '
                                            'documents have one).'))


def media_gone_error() -> MediaError:
    return MediaError(410, 'MEDIA_GONE', lazy('The post was deleted on Telegram before its file was kept; '
                                              'Telegram no longer serves it.'))


def file_name_of(post: Post, file: MediaFile) -> str:
    media = post.media
    if media is not None and media.file_name:
        return media.file_name
    extension = {'image/jpeg': 'jpg', 'video/mp4': 'mp4', 'audio/mpeg': 'mp3', 'audio/ogg': 'ogg',
                 'application/pdf': 'pdf'}.get(mime_of(post), 'bin')
    return f'{post.channel_id}_{post.message_id}.{extension}'


def mime_of(post: Post) -> str:
    media = post.media
    return (media.mime_type if media is not None else None) or 'application/octet-stream'


def location_of(file: MediaFile) -> types.TypeInputFileLocation:
    if file.kind == 'photo':
        return types.InputPhotoFileLocation(id=file.id, access_hash=file.access_hash,
                                            file_reference=file.file_reference, thumb_size=file.size_type)
    return types.InputDocumentFileLocation(id=file.id, access_hash=file.access_hash,
                                           file_reference=file.file_reference, thumb_size=file.size_type)


class MediaService:
    """Keeps posts' files: on demand (the API and the pages) and for the download policy's jobs."""

    def __init__(self, *, repos: Repos, channels: ChannelService, events: EventBus | None = None) -> None:
        self.repos = repos
        self.channels = channels
        self.events = events
        self._running: dict[str, asyncio.Future[KeptFile]] = {}
        self._progress: dict[str, tuple[int, int]] = {}  # key → (bytes kept, bytes in all) of downloads under way

    def progress(self, channel_id: int, message_id: int) -> tuple[int, int]:
        """How far this process's download of the post's file has come: (bytes kept, bytes in all); (0, 0) when
        none is under way."""
        return self._progress.get(link_key(channel_id, message_id), (0, 0))

    async def keep(self, channel: Channel, post: Post) -> KeptFile:
        """The post's kept file, downloaded now if it is not kept yet. Concurrent calls for one post share one
        download; the download goes on when a caller stops waiting (the next caller finds it kept)."""
        kept = await self.repos.media.kept(channel.id, post.message_id)
        if kept is not None:
            return kept
        key = link_key(channel.id, post.message_id)
        running = self._running.get(key)
        if running is None:
            running = self._running[key] = asyncio.ensure_future(self._keep(channel, post))

            def done(finished: asyncio.Future[KeptFile]) -> None:
                self._running.pop(key, None)
                self._progress.pop(key, None)
                if not finished.cancelled():
                    finished.exception()  # seen here: a caller that stopped waiting must not leave it unretrieved
            running.add_done_callback(done)
        return await asyncio.shield(running)

    async def _keep(self, channel: Channel, post: Post) -> KeptFile:
        file = post.media_file
        if file is None:
            raise no_media_error()
        same = await self.repos.media.by_telegram_id(file.telegram_id)
        if same is not None:  # another post shows this Telegram file: it is kept already
            return await self.repos.media.link(channel.id, post.message_id, same, type=post.media.type)
        if post.deleted:
            raise media_gone_error()
        account_id, client = self._reader(channel)
        done = await self._download(client, self.channels.input_channel(channel, account_id), channel, post, file)
        kept = await self.repos.media.link(channel.id, post.message_id, done, type=post.media.type)
        if self.events is not None:  # its storage line and the pages showing it follow
            self.events.publish(ChannelChanged(channel_id=channel.id))
        return kept

    def _reader(self, channel: Channel) -> tuple[str, TelegramClient]:
        for account_id in self.channels.able(MethodClass.FILES, channel):
            client = self.channels.accounts.client(account_id) if channel.access_hashes.get(account_id) else None
            if client is not None:
                return account_id, client
        raise self.channels.none_able(MethodClass.FILES)

    async def _download(self, client: TelegramClient, peer: types.InputChannel, channel: Channel, post: Post,
                        file: MediaFile) -> dict[str, Any]:
        media = self.repos.media
        state = await media.begin(link_key(channel.id, post.message_id), channel_id=channel.id,
                                  telegram_id=file.telegram_id, size=file.size)
        digest = hashlib.sha256()
        length = 0
        async for data in media.stored_parts(state):
            digest.update(data)
            length += len(data)
        renewed = False
        part = state['parts']
        key = state['_id']
        self._progress[key] = (length, file.size)
        while True:
            try:
                answer = await client(functions.upload.GetFileRequest(
                    location=location_of(file), offset=part * PART_BYTES, limit=PART_BYTES))
            except errors.FileReferenceExpiredError:
                if renewed:
                    raise MediaError(502, 'FILE_REFERENCE_EXPIRED', lazy(
                        'Telegram refused the renewed file reference too; try again later.')) from None
                file = await self._renew(client, peer, channel, post)
                renewed = True
                continue
            except errors.FloodWaitError as error:
                raise flood_wait_error(error.seconds, MethodClass.FILES) from None
            except errors.RPCError as error:  # the file is gone or refused: say so, keep what was stored
                raise MediaError(502, 'TELEGRAM_REFUSED_FILE', lazy(
                    'Telegram refused the file ({error}); try again later.', error=type(error).__name__)) from None
            data = answer.bytes
            if data:
                await media.put_part(state, part, data)
                digest.update(data)
                length += len(data)
                part += 1
                self._progress[key] = (length, file.size)
            if len(data) < PART_BYTES or (file.size and length >= file.size):
                break
        logger.info('kept the file of post {} of channel {} ({} bytes)', post.message_id, channel.id, length)
        return await media.finish(state, length=length, sha256=digest.hexdigest(), mime_type=mime_of(post),
                                  file_name=file_name_of(post, file))

    async def _renew(self, client: TelegramClient, peer: types.InputChannel, channel: Channel,
                     post: Post) -> MediaFile:
        """Read the message again for a fresh file reference, and keep it with the post."""
        try:
            found = await messages_by_id(client, peer, [post.message_id])
        except errors.FloodWaitError as error:
            raise flood_wait_error(error.seconds, MethodClass.HISTORY) from None
        message = found.get(post.message_id)
        file = media_file_of(getattr(message, 'media', None)) if message is not None else None
        if file is None:
            raise media_gone_error()
        await self.repos.posts.set_media_file(channel_id=channel.id, message_id=post.message_id, media_file=file)
        logger.info('renewed the file reference of post {} of channel {}', post.message_id, channel.id)
        return file
