"""The proof of a post's history: a canonical form of each version's content and a SHA-256 chain over them.

A version's hash covers what the post held (text, entities, media, forward, author, album), whether it was
deleted, Telegram's dates and when Parsegram saw it, plus the previous version's hash: changing any stored
version, or dropping one, breaks every hash after it. Each channel keeps a head folded over its versions' hashes
in the change feed's order, so a post removed or added behind Parsegram's back shows too.

The canonical form is JSON with sorted keys and no spaces, UTF-8, dates as UTC ISO-8601 to the millisecond
(what MongoDB keeps), absent and empty values written as they are stored by the post writer.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

CONTENT_FIELDS = ('text', 'entities', 'media', 'fwd_from', 'post_author', 'grouped_id')
COUNTER_FIELDS = ('views', 'forwards', 'replies', 'reactions', 'pinned')
HASHED_FIELDS = ('channel_id', 'message_id', 'date', 'edit_date', *CONTENT_FIELDS, 'deleted', 'version', 'version_at')
GENESIS = ''  # the "previous hash" of a post's first version, and a channel's head before its first version


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat(timespec='milliseconds')
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def content(doc: dict[str, Any]) -> dict[str, Any]:
    """What a post says, in plain values: equal for two fetches of an unchanged post."""
    return {name: _plain(doc.get(name) or None) for name in CONTENT_FIELDS}


def counters(doc: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(doc.get(name) or None) for name in COUNTER_FIELDS}


def canonical(doc: dict[str, Any]) -> bytes:
    body = {name: _plain(doc.get(name)) for name in HASHED_FIELDS}
    body.update(content(doc))
    body['deleted'] = bool(doc.get('deleted'))
    return json.dumps(body, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()


def version_hash(doc: dict[str, Any], prev_hash: str | None) -> str:
    """The hash of one version: SHA-256 over the previous version's hash and this version's canonical form."""
    digest = hashlib.sha256()
    digest.update((prev_hash or GENESIS).encode())
    digest.update(b'\n')
    digest.update(canonical(doc))
    return digest.hexdigest()


def fold_head(head: str | None, version_hashes: list[str]) -> str:
    """A channel's chain head after these versions (in the change feed's order)."""
    current = head or GENESIS
    for value in version_hashes:
        current = hashlib.sha256(f'{current}\n{value}'.encode()).hexdigest()
    return current


def as_first_version(doc: dict[str, Any]) -> dict[str, Any]:
    """A post document as the first version Parsegram saw (at its `fetched_at`), with its hash: the form the post
    writer stores a new post in. Pure CPU work, so a backfill does it in a worker thread with the mapping."""
    doc.update(version=1, edits=0, prev_hash=None, version_at=doc.get('fetched_at'), deleted=False, deleted_at=None)
    doc['hash'] = version_hash(doc, None)
    return doc
