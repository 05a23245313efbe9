"""Parse the channel references a person pastes into a typed reference.

Pure functions, no I/O: `parse_ref('t.me/+AbC')` → `InviteRef('AbC')`. A malformed reference raises
`RefError` whose message says what is wrong, in words a person understands.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from app.i18n import lazy

USERNAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_]{3,31}$')
INVITE_RE = re.compile(r'^[A-Za-z0-9_-]{8,64}$')
MAX_CHANNEL_ID = 2**63 - 1  # what a 64-bit id (Telegram's and MongoDB's) holds
MAX_MESSAGE_ID = 2**31 - 1  # message ids are 32-bit in Telegram's schema
HOSTS = {'t.me', 'telegram.me', 'telegram.dog', 'www.t.me', 'www.telegram.me', 'www.telegram.dog'}
# First path segments of t.me that are not usernames.
RESERVED = {'addstickers', 'addemoji', 'addtheme', 'share', 'proxy', 'socks', 'iv', 'setlanguage', 'login',
            'confirmphone', 'bg', 'invoice', 'boost', 'addlist', 'm', 'contact'}


class RefError(ValueError):
    """The reference is malformed; `str(error)` is the reason to show."""


@dataclass(frozen=True)
class UsernameRef:
    username: str
    message_id: int | None = None

    def __str__(self) -> str:
        return f'@{self.username}'


@dataclass(frozen=True)
class InviteRef:
    hash: str

    def __str__(self) -> str:
        return f'https://t.me/+{self.hash}'


@dataclass(frozen=True)
class ChannelIdRef:
    channel_id: int  # bare positive id (without -100)
    message_id: int | None = None

    def __str__(self) -> str:
        return str(-(10**12 + self.channel_id))


ChannelRef = UsernameRef | InviteRef | ChannelIdRef


def parse_refs(text: str) -> list[str]:
    """Split a pasted block into one reference per non-empty line, each once: a line with spaces stays one
    (wrong) reference, so the person sees it and can correct it rather than getting two made-up ones."""
    return list(dict.fromkeys(line.strip() for line in (text or '').splitlines() if line.strip()))


def parse_ref(raw: str) -> ChannelRef:
    ref = (raw or '').strip()
    if not ref:
        raise RefError(lazy('The reference is empty.'))
    if any(ch.isspace() for ch in ref):
        raise RefError(lazy('"{ref}" contains spaces; paste one reference per line.', ref=ref))
    if ref.lower().startswith('tg://'):
        return _parse_tg(ref)
    if re.fullmatch(r'-?\d+', ref):
        return _parse_number(ref)
    if ref.startswith('@'):
        return _username(ref[1:], ref)
    lowered = ref.lower()
    if lowered.startswith(('http://', 'https://')) or any(lowered.startswith(host + '/') or lowered == host
                                                          for host in HOSTS):
        return _parse_url(ref)
    if '/' in ref or '.' in ref:
        raise RefError(lazy('"{ref}" is not a Telegram link; use t.me/name, @name or an invite link.', ref=ref))
    return _username(ref, ref)


def _username(name: str, raw: str, message_id: int | None = None) -> UsernameRef:
    if not USERNAME_RE.fullmatch(name) or name.endswith('_') or '__' in name:
        raise RefError(lazy('"{raw}" is not a valid username: 4 to 32 letters, digits or underscores, starting with '
                            'a letter.', raw=raw))
    return UsernameRef(name.lower(), message_id)


def _invite(hash_: str, raw: str) -> InviteRef:
    if not INVITE_RE.fullmatch(hash_):
        raise RefError(lazy('"{raw}" has a malformed invite hash.', raw=raw))
    return InviteRef(hash_)


def _number(value: str | None, most: int) -> int | None:
    """A positive number of ASCII digits up to `most`, else None (int() would take other scripts' digits too)."""
    if not value or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number <= most else None


def _post_id(value: str, raw: str) -> int:
    post_id = _number(value, MAX_MESSAGE_ID)
    if post_id is None:
        raise RefError(lazy('"{raw}" has a malformed post number "{value}".', raw=raw, value=value))
    return post_id


def _channel_number(value: str | None, ref: str, why: str = lazy('has no valid channel number')) -> int:
    channel_id = _number(value, MAX_CHANNEL_ID)
    if channel_id is None:
        raise RefError(lazy('"{ref}" {why}; channel ids look like -1001234567890.', ref=ref, why=why))
    return channel_id


def _parse_number(ref: str) -> ChannelIdRef:
    if not ref.startswith('-100') or len(ref) <= 4:
        raise RefError(lazy('"{ref}" is not a channel id; channel ids look like -1001234567890.', ref=ref))
    return ChannelIdRef(_channel_number(ref[4:], ref))


def _parse_url(ref: str) -> ChannelRef:
    url = ref if '://' in ref else 'https://' + ref
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https'):
        raise RefError(lazy('"{ref}" is not a Telegram link.', ref=ref))
    if (parts.hostname or '').lower() not in HOSTS:
        raise RefError(lazy('"{ref}" is not a t.me link.', ref=ref))
    segments = [s for s in parts.path.split('/') if s]
    if not segments:
        raise RefError(lazy('"{ref}" names no channel.', ref=ref))
    head = segments[0]
    if head.startswith('+'):
        if len(segments) > 1:
            raise RefError(lazy('"{ref}" has extra parts after the invite hash.', ref=ref))
        return _invite(head[1:], ref)
    lowered = head.lower()
    if lowered == 'joinchat':
        if len(segments) != 2:
            raise RefError(lazy('"{ref}" is a joinchat link without its invite hash.', ref=ref))
        return _invite(segments[1], ref)
    if lowered == 'c':
        if len(segments) < 2:
            raise RefError(lazy('"{ref}" is a t.me/c/ link without a channel number.', ref=ref))
        if len(segments) > 3:
            raise RefError(lazy('"{ref}" has too many parts for a t.me/c/ link.', ref=ref))
        message_id = _post_id(segments[2], ref) if len(segments) == 3 else None
        why = lazy('is a t.me/c/ link without a channel number')
        return ChannelIdRef(_channel_number(segments[1], ref, why), message_id)
    if lowered == 's':
        if len(segments) < 2:
            raise RefError(lazy('"{ref}" is a t.me/s/ link without a channel name.', ref=ref))
        segments = segments[1:]
        head = segments[0]
        lowered = head.lower()
    if lowered in RESERVED:
        raise RefError(lazy('"{ref}" is a t.me/{lowered} link, not a channel.', ref=ref, lowered=lowered))
    if len(segments) > 2:
        raise RefError(lazy('"{ref}" has too many parts for a channel link.', ref=ref))
    message_id = _post_id(segments[1], ref) if len(segments) == 2 else None
    return _username(head, ref, message_id)


def _parse_tg(ref: str) -> ChannelRef:
    parts = urlsplit(ref)
    action = (parts.netloc or parts.path.strip('/')).lower()
    query = parse_qs(parts.query)
    if action == 'resolve':
        domain = (query.get('domain') or [''])[0]
        if not domain:
            raise RefError(lazy('"{ref}" has no domain= parameter.', ref=ref))
        post = (query.get('post') or [None])[0]
        return _username(domain, ref, _post_id(post, ref) if post is not None else None)
    if action == 'join':
        invite = (query.get('invite') or [''])[0]
        if not invite:
            raise RefError(lazy('"{ref}" has no invite= parameter.', ref=ref))
        return _invite(invite, ref)
    if action == 'privatepost':
        channel = _channel_number((query.get('channel') or [''])[0], ref)
        post = (query.get('post') or [None])[0]
        return ChannelIdRef(channel, _post_id(post, ref) if post is not None else None)
    raise RefError(lazy('"{ref}" is a tg:// link that does not name a channel.', ref=ref))
