"""What Parsegram can prove about a channel: how complete its stored sequence is, as of its last audit, and
whether every post's stored history still matches its hash chain; with buttons to audit now and to verify."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from app.db.completeness_repo import Completeness
from app.db.models import JobKind
from app.db.verify import Verdict, verify_channel
from app.i18n import _, n_, number
from app.mtproto.audit import completeness
from app.mtproto.channels import ChannelError
from app.pages.post_versions import utc_minute

if TYPE_CHECKING:
    from app.root import Root


def completeness_text(held: Completeness) -> str:
    if held.checked_at is None:
        return _('Completeness not audited yet: an audit runs after the first backfill.')
    gone = held.deleted + held.service
    if not held.complete:
        return n_('{n} id of #1 to #{newest} not yet checked (as of {time})',
                  '{n} ids of #1 to #{newest} not yet checked (as of {time})', held.unchecked,
                  newest=number(held.newest), time=utc_minute(held.checked_at))
    return ' · '.join((_('Complete from #1 to #{newest} as of {time}', newest=number(held.newest),
                         time=utc_minute(held.checked_at)),
                       n_('{n} post refilled', '{n} posts refilled', held.refilled),
                       n_('{n} id confirmed gone', '{n} ids confirmed gone', gone)))


def verdict_text(verdict: Verdict) -> str:
    if verdict.ok:
        return _('History verified: {posts} posts and {versions} versions match their hashes.',
                 posts=number(verdict.posts), versions=number(verdict.versions))
    if verdict.message_id is not None:
        return _('Post #{id}, version {version}: its stored history no longer matches its hash.',
                 id=verdict.message_id, version=verdict.version)
    return _("The channel's chain head does not match its posts: a post or a version was added or removed outside "
             'Parsegram.')


class ChannelProof:
    def __init__(self, root: Root, channel_id: int) -> None:
        self.root = root
        self.channel_id = channel_id
        with ui.row().classes('w-full items-center gap-2 pg-wrap').mark('channel-proof'):
            self.line = ui.label().classes('text-sm grow').mark('completeness')
            ui.button(_('Audit now'), icon='fact_check', on_click=self.audit).props('flat dense no-caps') \
                .mark('audit-now')
            self.verify_button = ui.button(_('Verify history'), icon='verified', on_click=self.verify) \
                .props('flat dense no-caps').mark('verify-history')
        self.verdict = ui.label().classes('text-sm').mark('verify-result')
        self.verdict.set_visibility(False)

    async def refresh(self) -> None:
        self.line.set_text(completeness_text(await completeness(self.root.repos, self.channel_id)))

    async def audit(self) -> None:
        try:
            job = await self.root.sync.enqueue(self.channel_id, kind=JobKind.AUDIT)
        except ChannelError as error:
            ui.notify(error.message, type='warning')
            return
        if job.kind == JobKind.AUDIT:
            ui.notify(_('Audit queued: the ids missing from the stored sequence will be asked for, 100 a request.'))
        else:
            ui.notify(_('Another job of this channel runs first; audit again when it has finished.'), type='info')

    async def verify(self) -> None:
        self.verify_button.props('loading')
        try:
            verdict = await verify_channel(self.root.repos, self.channel_id)
        finally:
            self.verify_button.props(remove='loading')
        self.verdict.set_text(verdict_text(verdict))
        self.verdict.classes(replace='text-sm ' + ('text-positive' if verdict.ok else 'text-negative'))
        self.verdict.set_visibility(True)
