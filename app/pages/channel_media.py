"""A channel's download policy on its page: what it keeps by itself, and how far that work has come."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nicegui import ui

from app.db.models import MEDIA_TYPES, MediaPolicy
from app.i18n import _, duration, file_size, render
from app.pages.post_versions import MEDIA_NAMES

if TYPE_CHECKING:
    from app.root import Root

MIB = 1024 * 1024


def progress_text(job: dict[str, Any] | None) -> str:
    """The policy's work in one line: running (files, bytes, time left), waiting (why), or what is left out."""
    if not job or not job.get('status'):
        return ''
    status = job['status']
    if status == 'running':
        text = _('Keeping files: {done} of {total} · {bytes_done} of {bytes_total}', done=job.get('files_done', 0),
                 total=job.get('files_total', 0), bytes_done=file_size(job.get('bytes_done', 0)),
                 bytes_total=file_size(job.get('bytes_total', 0)))
        eta = job.get('eta_seconds')
        return text + (' · ' + _('about {time} left', time=render(duration(eta))) if eta else '')
    if status == 'waiting':
        return _('Keeping files waits: {reason}', reason=render(job.get('reason') or ''))
    if job.get('quota_full'):
        return _('Files kept up to the quota; older ones are left for a download on demand.')
    return _('Every file the policy asks for is kept.')


class MediaPolicyPanel:
    """The policy's line and bar in the channel header, and the dialog that changes it."""

    def __init__(self, root: Root, channel_id: int) -> None:
        self.root = root
        self.channel_id = channel_id
        self.policy = MediaPolicy()
        with ui.row().classes('items-center gap-2 no-wrap'):
            ui.button(icon='perm_media', on_click=self.open).props('flat round dense') \
                .tooltip(_('Keep files by themselves')).mark('media-policy')
            self.line = ui.label().classes('text-sm text-grey-7').mark('media-progress')
        self.bar = ui.linear_progress(show_value=False).props('rounded size=4px').classes('w-full') \
            .mark('media-bar')

    def show(self, policy: MediaPolicy, job: dict[str, Any] | None) -> None:
        self.policy = policy
        text = progress_text(job) if policy.enabled else ''
        self.line.set_text(text)
        self.line.set_visibility(bool(text))
        running = policy.enabled and bool(job) and job.get('status') == 'running' and job.get('bytes_total')
        self.bar.set_visibility(bool(running))
        if running:
            self.bar.set_value(job['bytes_done'] / job['bytes_total'])

    def open(self) -> None:
        policy = self.policy
        with ui.dialog() as dialog, ui.card().classes('w-96 max-w-full').mark('media-policy-dialog'):
            ui.label(_('Keep files by themselves')).classes('text-lg font-medium')
            ui.label(_('Newest first, for the posts already stored and as new ones arrive.')) \
                .classes('text-sm text-grey-7')
            enabled = ui.switch(_('On'), value=policy.enabled).mark('media-policy-enabled')
            types = ui.select({kind: render(MEDIA_NAMES[kind]) for kind in MEDIA_TYPES}, value=list(policy.types),
                              multiple=True, label=_('Types')) \
                .props('use-chips outlined dense').classes('w-full').mark('media-policy-types')
            largest = ui.number(_('Largest file, MB'), value=round(policy.max_file_bytes / MIB, 1), min=0.1,
                                format='%.1f').props('outlined dense').classes('w-full').mark('media-policy-largest')
            quota = ui.number(_('Quota for the channel, MB'), value=round(policy.quota_bytes / MIB), min=1) \
                .props('outlined dense').classes('w-full').mark('media-policy-quota')
            with ui.row().classes('w-full justify-end'):
                ui.button(_('Cancel'), on_click=dialog.close).props('flat')

                async def save() -> None:
                    if not types.value or not largest.value or not quota.value:
                        ui.notify(_('Choose at least one type, a largest file and a quota.'), type='warning')
                        return
                    chosen = MediaPolicy(enabled=enabled.value, types=list(types.value),
                                         max_file_bytes=max(1, int(float(largest.value) * MIB)),
                                         quota_bytes=max(1, int(float(quota.value) * MIB)))
                    await self.root.repos.channels.set_media_policy(self.channel_id, chosen)
                    self.root.media_policy.wake()
                    self.show(chosen, await self.root.repos.media.job(self.channel_id))
                    dialog.close()
                    ui.notify(_('Download policy saved'))
                ui.button(_('Save'), on_click=save).mark('media-policy-save')
        dialog.open()
