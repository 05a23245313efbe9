"""Message content: Telegram-style entity detection and deterministic, varied seeded posts."""

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime

from telethon.tl import types

from . import files

_URL = re.compile(r'\b(?:https?://)?(?:[a-z0-9-]+\.)+(?:com|org|net|io|me|dev|ru)(?:/[^\s]*)?', re.IGNORECASE)
_MENTION = re.compile(r'(?<![\w@])@[a-zA-Z][a-zA-Z0-9_]{3,31}\b')
_HASHTAG = re.compile(r'(?<![\w#])#[^\W\d][\w]*')


def utf16_len(text: str) -> int:
    return len(text.encode('utf-16-le')) // 2


def _offsets(text: str, start: int, end: int) -> tuple[int, int]:
    offset = utf16_len(text[:start])
    return offset, utf16_len(text[start:end])


def detect_entities(text: str) -> list:
    """The entities Telegram's server adds to plain text: urls, @mentions and #hashtags (UTF-16 offsets)."""
    if not text:
        return []
    found = []
    taken: list[tuple[int, int]] = []
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in '.,;:!?)':
            end -= 1
        taken.append((start, end))
        found.append((start, types.MessageEntityUrl(*_offsets(text, start, end))))
    for pattern, cls in ((_MENTION, types.MessageEntityMention), (_HASHTAG, types.MessageEntityHashtag)):
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(s <= start < e for s, e in taken):
                continue
            found.append((start, cls(*_offsets(text, start, end))))
    found.sort(key=lambda pair: pair[0])
    return [entity for _, entity in found]


class TextBuilder:
    """Builds a message text with entities at correct UTF-16 offsets."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.entities: list = []

    def add(self, text: str, entity: type | None = None, **extra) -> 'TextBuilder':
        length = utf16_len(text)
        if entity is not None:
            self.entities.append(entity(offset=self._length, length=length, **extra))
        self._parts.append(text)
        self._length += length
        return self

    @property
    def text(self) -> str:
        return ''.join(self._parts)


_WORDS = (
    'market update release today weekly report news launch community open source telegram channel data '
    'analysis growth users team build feature design review price index chart morning evening summary '
    'thread notes guide tutorial event meetup video podcast interview story photo travel city coffee '
    'science space climate energy policy sports match final season music album concert film'
).split()
_EMOJI = ('🔥', '🚀', '📈', '✅', '👀', '🎉', '💡', '📌')
_REACTIONS = ('👍', '❤', '🔥', '🎉', '😁', '🤔', '👎')
_DOMAINS = ('example.com', 'parsegram.dev', 'news.example.org', 'blog.example.net')
_AUTHORS = ('Alice', 'Bob', 'Editor', 'Night shift')
_SOURCES = ('World News', 'Daily Digest', 'Tech Wire')


# One fixed stream of words; a sentence is a random slice of it (one random draw instead of one per word).
_CORPUS = random.Random(0).choices(_WORDS, k=8192)


def _randint(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


def _sentence(rng: random.Random, words: int) -> str:
    start = int(rng.random() * (len(_CORPUS) - words))
    text = ' '.join(_CORPUS[start:start + words])
    return text[:1].upper() + text[1:] + '.'


def seeded_text(rng: random.Random) -> tuple[str, list]:
    """A varied post text: plain, with an emoji prefix (non-BMP, 2 UTF-16 units), links, mentions, hashtags."""
    b = TextBuilder()
    if rng.random() < 0.3:
        b.add(rng.choice(_EMOJI) + ' ')
    b.add(_sentence(rng, _randint(rng, 3, 14)))
    roll = rng.random()
    if roll < 0.25:
        url = f'https://{rng.choice(_DOMAINS)}/p/{_randint(rng, 1, 9999)}'
        b.add(' Read more: ').add(url, types.MessageEntityUrl)
    elif roll < 0.4:
        b.add(' ').add('the full story', types.MessageEntityTextUrl, url=f'https://{rng.choice(_DOMAINS)}/s')
    if rng.random() < 0.2:
        handle = rng.choice(('newsdesk', 'parsegram_team', 'weekly_digest'))
        b.add(' via ').add('@' + handle, types.MessageEntityMention)
    if rng.random() < 0.3:
        b.add(' ').add('#' + rng.choice(_WORDS), types.MessageEntityHashtag)
    paragraphs = rng.choice((0, 0, 0, 1, 3, 8))
    for _ in range(paragraphs):
        b.add('\n\n' + _sentence(rng, _randint(rng, 8, 30)))
    return b.text, b.entities


def _file_reference(media_id: int) -> bytes:
    return files.reference(media_id, 0)


def photo(media_id: int, date: datetime) -> types.Photo:
    return types.Photo(
        id=media_id, access_hash=media_id * 7 % (1 << 62), file_reference=_file_reference(media_id), date=date,
        sizes=[types.PhotoStrippedSize('i', files.stripped(media_id)),
               types.PhotoSize('m', 320, 240, 18_000 + media_id % 1000),
               types.PhotoSize('x', 1280, 960, 120_000 + media_id % 10_000)], dc_id=2)


def document(media_id: int, date: datetime, kind: str, rng: random.Random, size: int | None = None) -> types.Document:
    thumbs = None
    if kind == 'video':
        mime, name = 'video/mp4', f'clip_{media_id}.mp4'
        attrs = [types.DocumentAttributeVideo(duration=float(_randint(rng, 3, 600)), w=1280, h=720,
                                              supports_streaming=True)]
        thumbs = [types.PhotoStrippedSize('i', files.stripped(media_id)),
                  types.PhotoSize('m', 320, 180, 9_000 + media_id % 1000)]
    elif kind == 'audio':
        mime, name = 'audio/mpeg', f'track_{media_id}.mp3'
        attrs = [types.DocumentAttributeAudio(duration=_randint(rng, 60, 400), title=_sentence(rng, 2)[:-1],
                                              performer=rng.choice(_AUTHORS))]
    else:
        mime, name = 'application/pdf', f'report_{media_id}.pdf'
        attrs = []
    attrs.append(types.DocumentAttributeFilename(name))
    if size is None:
        size = _randint(rng, 10_000, 50_000_000)
    return types.Document(id=media_id, access_hash=media_id * 11 % (1 << 62), file_reference=_file_reference(media_id),
                          date=date, mime_type=mime, size=size, dc_id=2, attributes=attrs, thumbs=thumbs)


def media(kind: str, media_id: int, date: datetime, rng: random.Random, size: int | None = None):
    """A photo, video, audio or document (`size` bytes, else a seeded size; a photo's sizes are its own)."""
    if kind == 'photo':
        return types.MessageMediaPhoto(photo=photo(media_id, date))
    return types.MessageMediaDocument(document=document(media_id, date, kind, rng, size),
                                      video=kind == 'video' or None)


def reactions(counts: dict[str, int] | list[tuple[str, int]]) -> types.MessageReactions:
    items = counts.items() if isinstance(counts, dict) else counts
    return types.MessageReactions(
        results=[types.ReactionCount(types.ReactionEmoji(emoji), count) for emoji, count in items])


def seeded_posts(seed: int, count: int, start: datetime | None = None) -> Iterator[dict]:
    """Deterministic post fields (message id order) for a seed: lengths, entities, media, albums, reactions..."""
    rng = random.Random(seed)
    ts = int((start or datetime(2024, 1, 1, tzinfo=UTC)).timestamp())
    media_base = (seed % 100_000) * 1_000_000 + 5_000_000_000
    album_left = 0
    album_id = 0
    for n in range(count):
        ts += _randint(rng, 60, 1200)
        date = datetime.fromtimestamp(ts, UTC)
        fields: dict = {'date': date}
        if album_left:
            album_left -= 1
            fields['grouped_id'] = album_id
            fields['text'], fields['entities'] = '', []
            fields['media'] = media(rng.choice(('photo', 'photo', 'video')), media_base + n, date, rng)
        else:
            roll = rng.random()
            if roll < 0.06 and count - n > 5:
                album_left = _randint(rng, 1, 4)
                album_id = (seed << 32) + n + 1
                fields['grouped_id'] = album_id
                fields['media'] = media('photo', media_base + n, date, rng)
            elif roll < 0.3:
                fields['media'] = media('photo', media_base + n, date, rng)
            elif roll < 0.38:
                fields['media'] = media('video', media_base + n, date, rng)
            elif roll < 0.42:
                fields['media'] = media('audio', media_base + n, date, rng)
            elif roll < 0.45:
                fields['media'] = media('document', media_base + n, date, rng)
            if 'media' in fields and rng.random() < 0.3:
                fields['text'], fields['entities'] = '', []
            else:
                fields['text'], fields['entities'] = seeded_text(rng)
        fields['views'] = _randint(rng, 10, 100_000)
        fields['forwards'] = _randint(rng, 0, fields['views'] // 50)
        if rng.random() < 0.3:
            fields['replies'] = _randint(rng, 0, 300)
        if rng.random() < 0.5:
            picked = rng.sample(_REACTIONS, _randint(rng, 1, 4))
            fields['reactions'] = [(emoji, _randint(rng, 1, 5_000)) for emoji in picked]
        if rng.random() < 0.08:
            fields['fwd_from'] = types.MessageFwdHeader(
                date=datetime.fromtimestamp(ts - _randint(rng, 3600, 86400 * 30), UTC),
                from_name=rng.choice(_SOURCES) if rng.random() < 0.5 else None,
                from_id=None if rng.random() < 0.5 else types.PeerChannel(1_500_000_000 + _randint(rng, 1, 50)))
            header = fields['fwd_from']
            if header.from_id is None:
                header.from_name = header.from_name or _SOURCES[0]
            else:
                header.channel_post = _randint(rng, 1, 10_000)
        if rng.random() < 0.15:
            fields['post_author'] = rng.choice(_AUTHORS)
        if rng.random() < 0.07:
            fields['edit_date'] = datetime.fromtimestamp(ts + _randint(rng, 60, 7200), UTC)
        if rng.random() < 0.005:
            fields['pinned'] = True
        yield fields
