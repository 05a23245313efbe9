"""Account and job trouble as notifications: an account Telegram revoked, a long FloodWait, a failed job."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from loguru import logger

from app.alerts.repo import AlertsRepo, Notification, new_notification_id
from app.db.models import utcnow
from app.events import AccountChanged, Event, FloodWaitChanged, JobChanged

if TYPE_CHECKING:
    from app.db.repos import Repos

LONG_FLOOD_WAIT = timedelta(minutes=5)
TROUBLE_EVENTS = (AccountChanged, FloodWaitChanged, JobChanged)


class TroubleNotices:
    def __init__(self, repos: Repos, alerts: AlertsRepo) -> None:
        self.repos = repos
        self.alerts = alerts
        self.listeners: list = []

    async def on_bus(self, event: Event) -> None:
        try:
            notification = await self._notice(event)
            if notification is None:
                return
            await self.alerts.notify(notification)
            for listener in list(self.listeners):
                listener()
        except Exception:
            logger.exception('noting {} as a notification failed', type(event).__name__)

    async def _account_name(self, account_id: str) -> str:
        account = await self.repos.accounts.get(account_id)
        if account is None:
            return account_id
        name = ' '.join(part for part in (account.first_name, account.last_name) if part)
        return name or (f'@{account.username}' if account.username else account.phone or account_id)

    async def _notice(self, event: Event) -> Notification | None:
        if isinstance(event, AccountChanged) and event.state == 'revoked':
            return Notification(id=new_notification_id(), kind='account', at=utcnow(),
                                title=f'Account {await self._account_name(event.account_id)} was revoked',
                                text='Telegram ended its session: log it in again on the Accounts page.',
                                path='/dashboard/accounts')
        long_wait = isinstance(event, FloodWaitChanged) and event.until is not None \
            and event.until - event.at >= LONG_FLOOD_WAIT
        if isinstance(event, FloodWaitChanged) and long_wait:
            minutes = round((event.until - event.at).total_seconds() / 60)
            return Notification(id=new_notification_id(), kind='account', at=utcnow(),
                                title=f'Account {await self._account_name(event.account_id)} must wait {minutes} min',
                                text=f'Telegram asked it to wait before more {event.kind} requests; its jobs go on '
                                     'after the wait, or with another account.', path='/dashboard/accounts')
        if isinstance(event, JobChanged) and event.status == 'failed':
            job = await self.repos.jobs.get(event.job_id)
            channel = await self.repos.channels.get(event.channel_id)
            title = channel.title if channel else str(event.channel_id)
            kind = job.kind.value if job else 'job'
            return Notification(id=new_notification_id(), kind='job', at=utcnow(),
                                title=f'The {kind} of {title} failed', text=(job.error if job else None) or '',
                                channel_id=event.channel_id, path=f'/dashboard/channels/{event.channel_id}')
        return None
