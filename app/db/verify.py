"""Rechecking a channel's stored history against its hash chains (see app.db.post_hash).

Every post's versions must be numbered 1, 2, … without a gap, each must link to the hash before it, and each hash
must match what the version holds now. The channel's head, folded over every version's hash in the change feed's
order, must match the head the post writer kept: a version (or a whole post) added or removed behind Parsegram's
back shows there. The first post that fails is named, lowest message id first.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.db.post_hash import fold_head, version_hash

if TYPE_CHECKING:
    from app.db.repos import Repos

PROGRESS_EVERY = 2000


@dataclass
class Verdict:
    channel_id: int
    ok: bool
    posts: int = 0  # posts checked
    versions: int = 0  # versions checked, the current ones included
    unsealed: int = 0  # posts stored before versions were kept, not changed since: no hash to check yet
    message_id: int | None = None  # the first post whose history no longer matches
    version: int | None = None
    reason: str | None = None  # in English, for logs and the API; pages word it themselves
    head: str | None = None


def _check_post(current: dict[str, Any], earlier: list[dict[str, Any]]) -> tuple[int, str] | None:
    """(version, what is wrong) for the first version of one post that fails, or None."""
    chain = sorted(earlier, key=lambda v: v.get('version') or 0) + [current]
    previous = None
    for number, version in enumerate(chain, start=1):
        if version.get('version') != number:
            return number, f'version {number} is missing'
        if version.get('prev_hash') != previous:
            return number, f'version {number} does not link to the version before it'
        if version_hash(version, previous) != version.get('hash'):
            return number, f'version {number} no longer matches its hash'
        previous = version['hash']
    return None


async def verify_channel(repos: Repos, channel_id: int,
                         progress: Callable[[int], Awaitable[None]] | None = None) -> Verdict:
    verdict = Verdict(channel_id, ok=True)
    earlier: dict[int, list[dict[str, Any]]] = defaultdict(list)
    async for version in repos.versions.of_channel(channel_id=channel_id):
        earlier[version['message_id']].append(version)
    folded: list[tuple[int, str]] = []  # (position, hash) of every version a change made
    failures: list[tuple[int, int, str]] = []
    async for post in repos.posts.collection.find({'channel_id': channel_id}, {'tokens': 0, '_id': 0}):
        verdict.posts += 1
        if progress is not None and verdict.posts % PROGRESS_EVERY == 0:
            await progress(verdict.posts)
        versions = earlier.pop(post['message_id'], [])
        if not post.get('hash') and not versions:
            verdict.unsealed += 1
            continue
        verdict.versions += len(versions) + 1
        folded += [(v['position'], v['hash']) for v in (*versions, post) if v.get('position') and v.get('hash')]
        failure = _check_post(post, versions)
        if failure is not None:
            failures.append((post['message_id'], *failure))
    for message_id, versions in earlier.items():  # versions kept for a post that is no longer stored
        failures.append((message_id, len(versions) + 1, 'the post itself is missing'))
    if failures:
        message_id, number, reason = min(failures)
        verdict.ok, verdict.message_id, verdict.version, verdict.reason = False, message_id, number, reason
        return verdict
    kept = (await repos.writer.chain_head(channel_id) or {}).get('head')
    verdict.head = fold_head(None, [value for _, value in sorted(folded)])
    if (kept or folded) and kept != verdict.head:
        verdict.ok = False
        verdict.reason = ("the channel's chain head does not match its versions: a version or a post was added or "
                          'removed outside Parsegram')
    return verdict
