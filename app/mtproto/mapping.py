"""Telethon objects → app.db.models. Telethon types never leave app.mtproto; this module is the border."""
from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from telethon import utils
from telethon.tl import types

from app.db.models import (
    Channel,
    Comment,
    ForwardInfo,
    MediaFile,
    MediaSummary,
    Post,
    PostEntities,
    Reaction,
    utcnow,
)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---------------------------------------------------------------- posts

def post_from_message(message: Any, channel_id: int, *, fetched_at: datetime | None = None) -> Post | None:
    """Map a Telethon (or raw TL) Message of a channel to a Post; service messages and empties give None."""
    # By constructor id: both Telethon's patched Message and the raw TL class are accepted.
    if getattr(message, 'CONSTRUCTOR_ID', None) != types.Message.CONSTRUCTOR_ID:
        return None
    text = message.message or ''
    return Post(
        channel_id=channel_id,
        message_id=message.id,
        date=_aware(message.date) or utcnow(),
        edit_date=_aware(message.edit_date),
        text=text,
        entities=entities_of(text, message.entities),
        media=media_summary(message.media),
        grouped_id=message.grouped_id,
        media_file=media_file_of(message.media),
        thumb=stripped_thumb_of(message.media),
        views=message.views,
        forwards=message.forwards,
        replies=message.replies.replies if message.replies is not None else None,
        reactions=reactions_of(message.reactions),
        fwd_from=forward_of(message.fwd_from),
        post_author=message.post_author,
        pinned=bool(message.pinned),
        fetched_at=fetched_at or utcnow(),
    )


def comment_from_message(message: Any, channel_id: int, post_id: int, names: dict[int, str], *,
                         fetched_at: datetime | None = None) -> Comment | None:
    """A message of a discussion group under the channel's post `post_id` → a Comment; `names` by peer id (users'
    names, channels' titles) name its author."""
    post = post_from_message(message, getattr(message.peer_id, 'channel_id', 0), fetched_at=fetched_at)
    if post is None:
        return None
    author = message.from_id
    author_id = getattr(author, 'user_id', None) or getattr(author, 'channel_id', None)
    header = message.reply_to
    reply_to = header.reply_to_msg_id if header is not None and header.reply_to_top_id else None
    thread_id = (header.reply_to_top_id or header.reply_to_msg_id) if header is not None else None
    return Comment(**post.model_dump(exclude={'post_author'}), media_file=post.media_file, thumb=post.thumb,
                   post_author=names.get(author_id) if author_id else None, post_channel_id=channel_id,
                   post_id=post_id, author_id=author_id, reply_to=reply_to, thread_id=thread_id)


def names_of(users: list[Any], chats: list[Any]) -> dict[int, str]:
    """Who wrote what: users' full names and channels' titles, by id."""
    names = {user.id: ' '.join(part for part in (user.first_name, user.last_name) if part) or (user.username or '')
             for user in users if isinstance(user, types.User)}
    names.update({chat.id: chat.title for chat in chats if isinstance(chat, (types.Channel, types.Chat))})
    return names


def entities_of(text: str, entities: list | None) -> PostEntities:
    result = PostEntities()
    if not entities:
        return result
    # Entity offsets count UTF-16 code units; get_inner_text handles the surrogate pairs.
    inner = utils.get_inner_text(text, entities)
    for entity, value in zip(entities, inner, strict=False):
        if isinstance(entity, types.MessageEntityUrl):
            _add(result.urls, value)
        elif isinstance(entity, types.MessageEntityTextUrl):
            _add(result.urls, entity.url)
        elif isinstance(entity, types.MessageEntityMention):
            _add(result.mentions, value)
        elif isinstance(entity, types.MessageEntityMentionName):
            _add(result.mentions, value)
        elif isinstance(entity, types.MessageEntityHashtag):
            _add(result.hashtags, value)
    return result


def _add(items: list[str], value: str | None) -> None:
    if value and value not in items:
        items.append(value)


def media_summary(media: Any) -> MediaSummary | None:
    if media is None or isinstance(media, types.MessageMediaEmpty):
        return None
    if isinstance(media, types.MessageMediaPhoto):
        photo = media.photo
        summary = MediaSummary(type='photo', mime_type='image/jpeg')
        if isinstance(photo, types.Photo):
            sizes = [s for s in photo.sizes if isinstance(s, (types.PhotoSize, types.PhotoSizeProgressive))]
            if sizes:
                biggest = max(sizes, key=lambda s: s.w * s.h)
                summary.width, summary.height = biggest.w, biggest.h
                summary.size = biggest.size if isinstance(biggest, types.PhotoSize) else max(biggest.sizes)
        return summary
    if isinstance(media, types.MessageMediaDocument):
        return _document_summary(media.document)
    if isinstance(media, types.MessageMediaWebPage):
        return MediaSummary(type='webpage')
    if isinstance(media, types.MessageMediaPoll):
        return MediaSummary(type='poll')
    if isinstance(media, (types.MessageMediaGeo, types.MessageMediaGeoLive, types.MessageMediaVenue)):
        return MediaSummary(type='geo')
    if isinstance(media, types.MessageMediaContact):
        return MediaSummary(type='contact')
    return MediaSummary(type='other')


def media_file_of(media: Any) -> MediaFile | None:
    """Where the post's file is: a photo's largest size or a document's own file; None for media without a file."""
    photo = getattr(media, 'photo', None) if isinstance(media, types.MessageMediaPhoto) else None
    if isinstance(photo, types.Photo):
        sizes = [s for s in photo.sizes if isinstance(s, (types.PhotoSize, types.PhotoSizeProgressive))]
        if not sizes:
            return None
        biggest = max(sizes, key=lambda s: s.w * s.h)
        size = biggest.size if isinstance(biggest, types.PhotoSize) else max(biggest.sizes)
        return MediaFile(kind='photo', id=photo.id, access_hash=photo.access_hash, file_reference=photo.file_reference,
                         dc_id=photo.dc_id, size_type=biggest.type, size=size)
    document = getattr(media, 'document', None) if isinstance(media, types.MessageMediaDocument) else None
    if isinstance(document, types.Document):
        return MediaFile(kind='document', id=document.id, access_hash=document.access_hash,
                         file_reference=document.file_reference, dc_id=document.dc_id, size=document.size)
    return None


def stripped_thumb_of(media: Any) -> bytes | None:
    """The tiny thumbnail Telegram sends inline with a photo or a video (PhotoStrippedSize), as sent."""
    photo = getattr(media, 'photo', None) if isinstance(media, types.MessageMediaPhoto) else None
    document = getattr(media, 'document', None) if isinstance(media, types.MessageMediaDocument) else None
    sizes = photo.sizes if isinstance(photo, types.Photo) else \
        (document.thumbs or []) if isinstance(document, types.Document) else []
    return next((bytes(s.bytes) for s in sizes if isinstance(s, types.PhotoStrippedSize)), None)


def thumb_jpeg(stripped: bytes) -> bytes:
    """The JPEG of a stored inline thumbnail (Telegram strips the header every such JPEG shares)."""
    return utils.stripped_photo_to_jpg(stripped)


def _document_summary(document: Any) -> MediaSummary:
    if not isinstance(document, types.Document):
        return MediaSummary(type='document')
    summary = MediaSummary(type='document', mime_type=document.mime_type, size=document.size)
    kind = 'document'
    for attr in document.attributes or []:
        if isinstance(attr, types.DocumentAttributeFilename):
            summary.file_name = attr.file_name
        elif isinstance(attr, types.DocumentAttributeVideo):
            summary.width, summary.height, summary.duration = attr.w, attr.h, float(attr.duration)
            if kind == 'document':
                kind = 'video'
        elif isinstance(attr, types.DocumentAttributeAudio):
            summary.duration = float(attr.duration)
            kind = 'voice' if attr.voice else 'audio'
        elif isinstance(attr, types.DocumentAttributeImageSize):
            summary.width, summary.height = attr.w, attr.h
        elif isinstance(attr, types.DocumentAttributeSticker):
            kind = 'sticker'
        elif isinstance(attr, types.DocumentAttributeAnimated):
            kind = 'gif'
    summary.type = kind
    return summary


def reactions_of(reactions: Any) -> list[Reaction]:
    if not isinstance(reactions, types.MessageReactions):
        return []
    result = []
    for item in reactions.results or []:
        reaction = item.reaction
        if isinstance(reaction, types.ReactionEmoji):
            emoji = reaction.emoticon
        elif isinstance(reaction, types.ReactionCustomEmoji):
            emoji = f'custom:{reaction.document_id}'
        elif isinstance(reaction, types.ReactionPaid):
            emoji = 'paid'
        else:
            continue
        result.append(Reaction(emoji=emoji, count=item.count))
    return result


def forward_of(header: Any) -> ForwardInfo | None:
    if not isinstance(header, types.MessageFwdHeader):
        return None
    return ForwardInfo(
        from_id=utils.get_peer_id(header.from_id) if header.from_id is not None else None,
        from_name=header.from_name or header.post_author,
        channel_post=header.channel_post,
        date=_aware(header.date),
    )


# ---------------------------------------------------------------- channels

def photo_data_url(photo: Any) -> str | None:
    """The small photo as a data: URL, only when the stripped thumbnail came with the object (no download)."""
    stripped = getattr(photo, 'stripped_thumb', None)
    if stripped is None and isinstance(photo, types.Photo):
        stripped = next((s.bytes for s in photo.sizes if isinstance(s, types.PhotoStrippedSize)), None)
    if not stripped:
        return None
    try:
        jpg = utils.stripped_photo_to_jpg(stripped)
    except Exception:  # a malformed thumbnail must not break adding the channel
        return None
    return 'data:image/jpeg;base64,' + base64.b64encode(jpg).decode()


def channel_from_tl(chat: Any, full: Any = None) -> Channel:
    """Channel metadata from a types.Channel and, when known, its types.ChannelFull."""
    channel = Channel(
        id=chat.id,
        title=chat.title or '',
        username=(chat.username or _first_username(chat)),
        participants_count=chat.participants_count,
        photo=photo_data_url(chat.photo),
        broadcast=bool(chat.broadcast),
    )
    if isinstance(full, types.ChannelFull):
        channel.about = full.about or None
        if full.participants_count is not None:
            channel.participants_count = full.participants_count
        channel.linked_chat_id = full.linked_chat_id
        channel.photo = photo_data_url(full.chat_photo) or channel.photo
    return channel


def _first_username(chat: Any) -> str | None:
    for item in getattr(chat, 'usernames', None) or []:
        if getattr(item, 'active', False):
            return item.username
    return None
