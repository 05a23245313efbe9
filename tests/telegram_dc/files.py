"""Files of the test DC: the bytes behind every photo and document, served by `upload.getFile` as Telegram does.

Every file's bytes follow from its media id (and the photo size asked for), so two runs, or two posts holding the
same media, give the same bytes. Photos are real JPEGs (flat-coloured tiles, padded with comment segments to the
size their PhotoSize announces); other files are pseudo-random bytes of their document's size.

Telegram's rules for a part (core.telegram.org/api/files): `offset` a multiple of 4 KiB, `limit` a multiple of
4 KiB that divides 1 MiB, and a part never crosses a 1 MiB boundary; otherwise LIMIT_INVALID or OFFSET_INVALID. A
file reference is valid until the control API expires it (FILE_REFERENCE_EXPIRED); re-reading the message gives
the new one.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from functools import lru_cache

from telethon import utils
from telethon.tl import types

from .errors import RpcError
from .thumbs import TILE, scan, stripped_thumb

KIB = 4096
MIB = 1 << 20
_JPEG_HEADER = utils.stripped_photo_to_jpg(b'\x01\x00\x00')


def reference(media_id: int, epoch: int) -> bytes:
    return media_id.to_bytes(8, 'big') + epoch.to_bytes(4, 'big')


def colours(media_id: int, rows: int, cols: int) -> list[list[tuple[int, int, int]]]:
    rng = random.Random(media_id)
    base = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    return [[tuple((c + 23 * r + 41 * k + rng.randrange(24)) % 256 for c in base) for k in range(cols)]
            for r in range(rows)]


def stripped(media_id: int) -> bytes:
    """The tiny inline thumbnail Telegram sends with a photo or video (PhotoStrippedSize 'i')."""
    return stripped_thumb(colours(media_id, 2, 3))


@lru_cache(maxsize=64)
def jpeg(media_id: int, width: int, height: int, size: int) -> bytes:
    """A real JPEG of flat tiles, `size` bytes long: comment segments after SOI make up the rest (and, when fewer
    than 4 bytes are left, bytes after EOI, which decoders ignore)."""
    rows, cols = max(1, height // TILE), max(1, width // TILE)
    header = bytearray(_JPEG_HEADER[:-2])  # without its (empty) entropy-coded data and EOI
    sof = header.index(b'\xff\xc0')
    header[sof + 5:sof + 7] = (rows * TILE).to_bytes(2, 'big')
    header[sof + 7:sof + 9] = (cols * TILE).to_bytes(2, 'big')
    image = bytes(header[2:]) + scan(colours(media_id, rows, cols)) + b'\xff\xd9'
    padding = size - 2 - len(image)
    comments = bytearray()
    while padding >= 4:
        chunk = min(padding, 65_537)  # marker, length and at most 65,533 bytes of comment
        if 0 < padding - chunk < 4:
            chunk -= 4
        comments += b'\xff\xfe' + (chunk - 2).to_bytes(2, 'big') + bytes(chunk - 4)
        padding -= chunk
    return b'\xff\xd8' + bytes(comments) + image + bytes(max(0, padding))


@lru_cache(maxsize=8)
def _block(seed: bytes, index: int) -> bytes:
    return random.Random(hashlib.sha256(seed + index.to_bytes(8, 'big')).digest()).randbytes(MIB)


def random_bytes(seed: bytes, offset: int, limit: int, size: int) -> bytes:
    """Bytes [offset, offset + limit) of a pseudo-random file of `size` bytes named by `seed`."""
    end = min(size, offset + limit)
    out = bytearray()
    while offset < end:
        index, start = divmod(offset, MIB)
        take = min(MIB - start, end - offset)
        out += _block(seed, index)[start:start + take]
        offset += take
    return bytes(out)


@dataclass
class FileRec:
    """A photo or document as the DC knows it: where it is held (to renew its reference) and its sizes."""
    id: int
    access_hash: int
    kind: str  # 'photo' or 'document'
    sizes: dict[str, tuple[int, int, int]]  # photo size type (or '' for a document) -> (width, height, bytes)
    epoch: int = 0
    holders: set[tuple[int, int]] = field(default_factory=set)  # (channel id, message id)

    @property
    def reference(self) -> bytes:
        return reference(self.id, self.epoch)

    def content(self, thumb: str, offset: int, limit: int) -> bytes:
        width, height, size = self.sizes[thumb]
        if self.kind == 'photo' or thumb:
            return jpeg(self.id * 31 + len(thumb), width, height, size)[offset:offset + limit]
        return random_bytes(self.id.to_bytes(8, 'big'), offset, limit, size)


def check_part(offset: int, limit: int) -> None:
    if offset < 0 or offset % KIB:
        raise RpcError(400, 'OFFSET_INVALID')
    if limit <= 0 or limit % KIB or MIB % limit or offset // MIB != (offset + limit - 1) // MIB:
        raise RpcError(400, 'LIMIT_INVALID')


_STORAGE = {'image/jpeg': types.storage.FileJpeg, 'video/mp4': types.storage.FileMp4,
            'audio/mpeg': types.storage.FileMp3, 'application/pdf': types.storage.FilePdf}


class FileHandlers:
    """`upload.getFile` and the file records behind it (mixed into World, which provides files and channels)."""

    files: dict[int, FileRec]

    def register_media(self, media, holder: tuple[int, int]):
        """Note the media's file (its sizes, who holds it) and give it the file's current reference."""
        photo = getattr(media, 'photo', None)
        document = getattr(media, 'document', None)
        item = photo if isinstance(photo, types.Photo) else document if isinstance(document, types.Document) else None
        if item is None:
            return media
        rec = self.files.get(item.id)
        if rec is None:
            if isinstance(item, types.Photo):
                sizes = {s.type: (s.w, s.h, s.size) for s in item.sizes if isinstance(s, types.PhotoSize)}
                rec = FileRec(item.id, item.access_hash, 'photo', sizes)
            else:
                sizes = {s.type: (s.w, s.h, s.size) for s in item.thumbs or () if isinstance(s, types.PhotoSize)}
                rec = FileRec(item.id, item.access_hash, 'document', {'': (0, 0, item.size), **sizes})
            self.files[item.id] = rec
        rec.holders.add(holder)
        item.file_reference = rec.reference
        return media

    def expire_file_references(self, channel_id: int, message_ids: list[int] | None = None) -> int:
        """Expire the file references of these messages' media (all of the channel's when None): a download with
        the old one answers FILE_REFERENCE_EXPIRED, and re-reading the message gives the new one."""
        ch = self.channels[channel_id]
        expired = 0
        for message_id in message_ids if message_ids is not None else list(ch.ids):
            message = ch.message(message_id)
            item = getattr(message, 'media', None)
            item = getattr(item, 'photo', None) or getattr(item, 'document', None)
            rec = self.files.get(getattr(item, 'id', None))
            if rec is None:
                continue
            rec.epoch += 1
            expired += 1
            for held_channel, held_id in sorted(rec.holders):
                holder = self.channels.get(held_channel)
                old = holder.message(held_id) if holder is not None else None
                if old is not None and old.media is not None:
                    holder.store(old.copy(media=_with_reference(old.media, rec.reference)))
        return expired

    def media_of(self, channel_id: int, message_id: int):
        """The message's media (posting it again shows the same file in another post)."""
        return self.channels[channel_id].message(message_id).media

    def file_content(self, channel_id: int, message_id: int) -> bytes:
        """The whole file a download of the message's media gets: a photo's largest size, a document's file."""
        item = self.media_of(channel_id, message_id)
        item = getattr(item, 'photo', None) or getattr(item, 'document', None)
        rec = self.files[item.id]
        thumb = max(rec.sizes, key=lambda t: rec.sizes[t][2]) if rec.kind == 'photo' else ''
        return rec.content(thumb, 0, rec.sizes[thumb][2])

    def rpc_upload_GetFileRequest(self, client, req):
        location = req.location
        if isinstance(location, types.InputPhotoFileLocation):
            thumb = location.thumb_size
        elif isinstance(location, types.InputDocumentFileLocation):
            thumb = location.thumb_size or ''
        else:
            raise RpcError(400, 'LOCATION_INVALID')
        rec = self.files.get(location.id)
        if rec is None or rec.access_hash != location.access_hash or thumb not in rec.sizes:
            raise RpcError(400, 'LOCATION_INVALID')
        if location.file_reference != rec.reference:
            raise RpcError(400, 'FILE_REFERENCE_EXPIRED')
        check_part(req.offset, req.limit)
        data = rec.content(thumb, req.offset, req.limit)
        mime = 'image/jpeg' if rec.kind == 'photo' or thumb else None
        return types.upload.File(type=_STORAGE.get(mime or '', types.storage.FilePartial)(), mtime=0, bytes=data)


def _with_reference(media, file_reference: bytes):
    if isinstance(media, types.MessageMediaPhoto):
        photo = media.photo
        return types.MessageMediaPhoto(photo=types.Photo(
            id=photo.id, access_hash=photo.access_hash, file_reference=file_reference, date=photo.date,
            sizes=photo.sizes, dc_id=photo.dc_id, has_stickers=photo.has_stickers, video_sizes=photo.video_sizes),
            spoiler=media.spoiler, ttl_seconds=media.ttl_seconds)
    document = media.document
    return types.MessageMediaDocument(document=types.Document(
        id=document.id, access_hash=document.access_hash, file_reference=file_reference, date=document.date,
        mime_type=document.mime_type, size=document.size, dc_id=document.dc_id, attributes=document.attributes,
        thumbs=document.thumbs, video_thumbs=document.video_thumbs), video=media.video, round=media.round,
        voice=media.voice, spoiler=media.spoiler, ttl_seconds=media.ttl_seconds)
