"""Saved Messages digests: a rule that says so sends its new matches to an account's own Saved Messages (where a
Telegram user already looks), at most one message a minute per rule, through the door like every other call."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from loguru import logger
from telethon import functions, types

from app.alerts.repo import AlertRule, AlertsRepo, Notification
from app.background_loop import BackgroundLoop
from app.clock import Clock, sleep_or_wake

if TYPE_CHECKING:
    from app.mtproto.accounts import AccountManager

ONE_A_MINUTE = timedelta(minutes=1)
LOOK_EVERY_SECONDS = 15.0
PER_DIGEST = 10
MOST_PENDING = 1000
MESSAGE_CHARS = 4000  # Telegram's limit is 4096


def digest_text(rule: AlertRule, items: list[Notification], more: int) -> str:
    lines = [f'🔔 Parsegram: «{rule.name}» ({rule.query})']
    for item in items:
        lines.append(f'\n{item.text}')
        if item.link:
            lines.append(item.link)
    if more:
        lines.append(f'\n… and {more} more in Parsegram')
    text = '\n'.join(lines)
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + '…'


class DigestSender(BackgroundLoop):
    name = 'alert digests'

    def __init__(self, *, alerts: AlertsRepo, accounts: AccountManager, clock: Clock) -> None:
        super().__init__()
        self.alerts = alerts
        self.accounts = accounts
        self.clock = clock

    async def turn(self) -> None:
        await self.send_due()

    async def pause(self) -> None:
        await sleep_or_wake(self.clock, self._wake, LOOK_EVERY_SECONDS)

    async def send_due(self) -> int:
        """Send the digest of every rule with pending matches whose last digest is a minute old; how many went."""
        sent = 0
        for rule_id in await self.alerts.rules_with_pending_digests():
            if rule_id is None:
                continue
            now = self.clock.now()
            rule = await self.alerts.claim_digest(rule_id, now, now - ONE_A_MINUTE)
            if rule is None:
                continue
            account_id = self._account(rule)
            if account_id is None:
                logger.info('alert digest of rule {} waits: no connected account', rule.id)
                continue
            pending = await self.alerts.pending_digest(rule.id, MOST_PENDING)
            shown = pending[:PER_DIGEST]
            more = len(pending) - len(shown)
            client = self.accounts.client(account_id)
            if client is None:
                continue
            try:
                await client(functions.messages.SendMessageRequest(
                    peer=types.InputPeerSelf(), message=digest_text(rule, shown, more), no_webpage=True))
            except Exception as error:  # a FloodWait is stored by the door; the digest goes out a minute later
                logger.warning('alert digest of rule {} not sent ({}); trying again later', rule.id,
                               type(error).__name__)
                continue
            await self.alerts.digest_sent([item.id for item in pending])  # the rest are counted in "… more"
            sent += 1
        return sent

    def _account(self, rule: AlertRule) -> str | None:
        usable = self.accounts.usable_account_ids()
        if rule.account_id:
            return rule.account_id if rule.account_id in usable else None
        return sorted(usable)[0] if usable else None
