"""/dashboard/accounts: the Telegram accounts, their live state, and the add-account wizard (code, 2FA, QR)."""
from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

import segno
from nicegui import app, ui

from app.db.models import utcnow
from app.i18n import _, duration, lazy, number, render, translate_text
from app.mtproto.accounts import AccountInfo, LiveState
from app.mtproto.errors import LoginError, LoginState
from app.mtproto.limits import MAX_CHANNELS_PER_ACCOUNT, MethodClass, class_label
from app.mtproto.login import LoginStep, russian_trunk_guess
from app.pages.layout import frame

if TYPE_CHECKING:
    from app.root import Root

JOINED_RECOUNT_SECONDS = 10.0
PENDING_LOGIN = 'pending_login'  # browser storage: the login this browser started, found again after a reload

WHERE_SENT = {
    'app': lazy('in the Telegram app — open the chat “Telegram” on a device where you are logged in'),
    'sms': lazy('by SMS'),
    'call': lazy('by a phone call'),
    'flash_call': lazy('as a missed call — the code is the last digits of the calling number'),
    'missed_call': lazy('as a missed call — the code is the last digits of the calling number'),
    'email_code': lazy('by email'),
    'fragment_sms': lazy('to your Fragment number'),
    'firebase_sms': lazy('by SMS'),
}
STATE_NAMES = {LiveState.CONNECTING: lazy('connecting'), LiveState.OFFLINE: lazy('offline')}
CHIP_COLORS = {
    LiveState.CONNECTED: 'positive', LiveState.CONNECTING: 'grey-7', LiveState.HELD: 'blue-grey-8',
    LiveState.FLOOD_WAIT: 'warning', LiveState.REVOKED: 'negative', LiveState.ERROR: 'negative',
    LiveState.OFFLINE: 'grey-7',
}


def qr_data_url(url: str) -> str:
    """Dark modules on white with the standard four-module quiet zone: scannable on a dark page too."""
    return segno.make(url, error='m').svg_data_uri(scale=6, border=4, light='white')


def seconds_left(until: datetime | None) -> int:
    return max(0, int((until - utcnow()).total_seconds())) if until else 0


def method_waits_text(info: AccountInfo) -> str:
    """'Telegram asked to wait: resolve 2 h 59 min, join 4 min 10 s' — only those classes wait, the rest go on."""
    waits = [f'{render(class_label(kind))} {render(duration(seconds, padded=True))}'
             for kind, seconds in info.flood_waits.items() if seconds > 0]
    return _('Telegram asked to wait: {waits}', waits=', '.join(waits)) if waits else ''


def usage_text(minute: int, hour: int, resolves_left: int | None, resolves_per_day: int | None,
               joined: int) -> str:
    """'Requests: 12 in the last minute, 340 in the last hour · resolves left today: 187 of 200 · joined 14 of 500'."""
    parts = [_('Requests: {minute} in the last minute, {hour} in the last hour', minute=number(minute),
               hour=number(hour))]
    if resolves_left is not None:
        parts.append(_('resolves left today: {left} of {total}', left=number(resolves_left),
                       total=number(resolves_per_day or 0)))
    parts.append(_('channels joined: {joined} of {total}', joined=number(joined),
                   total=number(MAX_CHANNELS_PER_ACCOUNT)))
    return ' · '.join(parts)


def chip_text(info: AccountInfo) -> str:
    if info.state == LiveState.CONNECTED:
        return _('authorized')
    if info.state == LiveState.FLOOD_WAIT:
        return _('FloodWait — {seconds} s left', seconds=seconds_left(info.flood_wait_until))
    if info.state == LiveState.REVOKED:
        return translate_text(info.reason) if info.reason else _('revoked — log in again')
    if info.state == LiveState.ERROR:
        return _('error: {reason}', reason=translate_text(info.reason)) if info.reason else _('error')
    if info.state == LiveState.HELD:
        return _('held by another Parsegram process')
    return render(STATE_NAMES.get(info.state, info.state.value))


class LoginWizard:
    """The add-account dialog: phone → code → (2FA password) → done, or a QR code; Cancel at every step."""

    def __init__(self, root: Root, on_done: Callable[[], Awaitable[None]]) -> None:
        self.root = root
        self.on_done = on_done
        self.step: LoginStep | None = None
        self.view = 'phone'  # phone, code, password, qr, qr_expired, done
        self.tab = 'phone'
        self.phone = ''
        self.error: str | None = None
        self.busy = False
        self.resend_at = 0.0
        self.qr_url: str | None = None
        self.notice: str | None = None
        self.trunk_guess = ''  # the +7 number a Russian "8 …" probably means
        self.dialog = ui.dialog().props('persistent')
        with self.dialog, ui.card().classes('w-[26rem] max-w-full'):
            self.body = ui.column().classes('w-full gap-3')
        self.timer = ui.timer(1.0, self.tick, active=False)

    # ------------------------------------------------------------ opening and closing

    def open(self, phone: str = '') -> None:
        self.step, self.view, self.tab, self.error, self.qr_url = None, 'phone', 'phone', None, None
        self.notice = None
        self.phone = phone
        self.render()
        self.dialog.open()
        self.timer.activate()

    async def cancel(self) -> None:
        step = self.step
        self.step = None
        if step is not None and step.status not in (LoginState.AUTHORIZED,):
            try:
                await self.root.logins.cancel(step.account_id)
            except LoginError:
                pass  # already finished or expired: nothing to cancel
        self.close()

    def close(self) -> None:
        self.timer.deactivate()
        self.dialog.close()
        self.body.clear()
        self.view, self.step = 'closed', None
        app.storage.user.pop(PENDING_LOGIN, None)

    async def resume_pending(self) -> None:
        """After a reload: open the login this browser had started (a code was sent already) where it stands."""
        pending = app.storage.user.get(PENDING_LOGIN)
        step = self.root.logins.pending_step(pending['account_id']) if pending else None
        if step is None:
            app.storage.user.pop(PENDING_LOGIN, None)
            return
        self.open(pending.get('phone', ''))
        self.tab = 'qr' if step.status == LoginState.QR_PENDING else 'phone'
        self.notice = _('Continuing the login you started.')
        await self._show(step)

    # ------------------------------------------------------------ rendering

    def render(self) -> None:
        self.body.clear()
        with self.body:
            ui.label(_('Add a Telegram account')).classes('text-h6')
            if self.notice and self.view in ('code', 'password', 'qr'):
                ui.label(self.notice).classes('text-sm text-primary').mark('login-resumed')
            getattr(self, f'_render_{self.view}')()

    def _error_label(self) -> None:
        if self.error:
            ui.label(translate_text(self.error)).classes('text-negative text-sm').mark('login-error')

    def _cancel_button(self) -> None:
        ui.button(_('Cancel'), on_click=self.cancel).props('flat').mark('login-cancel')

    def _render_phone(self) -> None:
        with ui.tabs(value=self.tab, on_change=self._tab_changed).classes('w-full') as tabs:
            ui.tab('phone', _('Phone number'), icon='phone')
            ui.tab('qr', _('QR code'), icon='qr_code_2')
        with ui.tab_panels(tabs, value=self.tab).classes('w-full'):
            with ui.tab_panel('phone').classes('gap-3 p-0'):
                phone = ui.input(_('Phone number'), value=self.phone, placeholder='+44 7700 900123') \
                    .props('autofocus type=tel').classes('w-full').mark('login-phone')
                phone.on('keydown.enter', lambda: self.send_code(phone.value))
                self._error_label()
                with ui.row().classes('w-full justify-end'):
                    self._cancel_button()
                    ui.button(_('Send code'), on_click=lambda: self.send_code(phone.value)).mark('login-send')
            with ui.tab_panel('qr').classes('gap-3 p-0'):
                ui.label(_('Preparing a QR code…')).classes('text-grey-7')
                self._error_label()
                with ui.row().classes('w-full justify-end'):
                    self._cancel_button()

    def _render_code(self) -> None:
        step = self.step
        where = render(WHERE_SENT.get(step.code_type or '')) or \
            (_('via {kind}', kind=step.code_type) if step.code_type else '')
        ui.label(_('We sent a login code to {phone} {where}.', phone=step.phone_masked, where=where)) \
            .mark('login-where')
        code = ui.input(_('Code')).props('autofocus inputmode=numeric autocomplete=one-time-code') \
            .classes('w-full').mark('login-code')
        code.on('keydown.enter', lambda: self.verify(code.value))
        self._error_label()
        with ui.row().classes('w-full items-center justify-between'):
            self.resend_button = ui.button(_('Resend'), on_click=self.resend).props('flat').mark('login-resend')
            with ui.row():
                self._cancel_button()
                ui.button(_('Log in'), on_click=lambda: self.verify(code.value)).mark('login-verify')
        self._update_resend()

    def _render_password(self) -> None:
        ui.label(_('This account has two-step verification. Enter its password.'))
        if self.step.hint:
            ui.label(_('Hint: {hint}', hint=self.step.hint)).classes('text-grey-8').mark('login-hint')
        password = ui.input(_('Password'), password=True, password_toggle_button=True).props('autofocus') \
            .classes('w-full').mark('login-password')
        password.on('keydown.enter', lambda: self.send_password(password.value))
        self._error_label()
        with ui.row().classes('w-full justify-end'):
            self._cancel_button()
            ui.button(_('Log in'), on_click=lambda: self.send_password(password.value)).mark('login-password-submit')

    def _render_qr(self) -> None:
        ui.label(_('On your phone open Telegram → Settings → Devices → Link Desktop Device, and scan this code.'))
        with ui.row().classes('w-full justify-center'):
            self.qr_image = ui.image(qr_data_url(self.qr_url)).classes('w-64 h-64 max-w-full pg-qr').mark('login-qr')
        self.qr_expiry = ui.label('').classes('text-grey-7 text-sm self-center')
        self._update_qr_expiry()
        self._error_label()
        with ui.row().classes('w-full justify-between'):
            ui.button(_('Use phone number'), on_click=self.use_phone).props('flat').mark('login-use-phone')
            self._cancel_button()

    def _render_qr_expired(self) -> None:
        ui.label(translate_text(self.error) if self.error else _('The QR code expired before it was scanned.'))
        with ui.row().classes('w-full justify-end'):
            self._cancel_button()
            ui.button(_('New QR code'), on_click=self.start_qr).mark('login-qr-new')

    def _render_done(self) -> None:
        step = self.step
        name = step.display_name or step.phone_masked or _('the account')
        who = f'{name} (@{step.username})' if step.username else name
        ui.label(_('Logged in as {who}.', who=who)).classes('text-positive').mark('login-done')
        with ui.row().classes('w-full justify-end'):
            ui.button(_('Close'), on_click=self.close).mark('login-close')

    # ------------------------------------------------------------ actions

    async def _tab_changed(self, event) -> None:
        self.tab = event.value
        if self.tab == 'qr' and self.view == 'phone':
            await self.start_qr()

    async def send_code(self, phone: str, *, as_typed: bool = False) -> None:
        self.phone = phone or ''
        guess = None if as_typed else russian_trunk_guess(self.phone)
        if guess is not None:  # ask rather than send a code to a number in another country
            self.trunk_guess, self.view, self.error = guess, 'trunk', None
            self.render()
            return
        await self._run(lambda logins: logins.start(self.phone))

    def _render_trunk(self) -> None:
        guess = self.trunk_guess
        typed = '+' + re.sub(r'\D', '', self.phone)
        ui.label(_('Did you mean {phone}?', phone=guess)).classes('text-lg').mark('login-trunk')
        ui.label(_('In Russia and Kazakhstan a number written from 8 is +7 in international format, which Telegram '
                   'needs.')).classes('text-sm text-grey-8')
        with ui.column().classes('w-full items-stretch gap-2'):
            ui.button(_('Yes, send the code to {phone}', phone=guess),
                      on_click=lambda: self.send_code(guess, as_typed=True)).mark('login-trunk-yes')
            ui.button(_('No, send it to {phone} as typed', phone=typed),
                      on_click=lambda: self.send_code(typed, as_typed=True)).props('flat').mark('login-trunk-no')
        with ui.row().classes('w-full justify-end'):
            ui.button(_('Back'), on_click=self._back_to_phone).props('flat')
            self._cancel_button()

    def _back_to_phone(self) -> None:
        self.view = 'phone'
        self.render()

    async def verify(self, code: str) -> None:
        await self._run(lambda logins: logins.verify(self.step.account_id, code or ''))

    async def send_password(self, password: str) -> None:
        await self._run(lambda logins: logins.password(self.step.account_id, password or ''))

    async def resend(self) -> None:
        await self._run(lambda logins: logins.resend(self.step.account_id))

    async def start_qr(self) -> None:
        if self.step is not None and self.view in ('qr', 'qr_expired'):
            try:
                await self.root.logins.cancel(self.step.account_id)
            except LoginError:
                pass
        self.step = None
        self.tab = 'qr'
        await self._run(lambda logins: logins.start_qr())

    async def use_phone(self) -> None:
        step, self.step = self.step, None
        if step is not None:
            try:
                await self.root.logins.cancel(step.account_id)
            except LoginError:
                pass
        self.view, self.tab, self.error = 'phone', 'phone', None
        self.render()

    async def _run(self, call: Callable) -> None:
        if self.busy:
            return
        logins = self.root.logins
        self.busy = True
        try:
            step = await call(logins)
        except LoginError as error:
            self.error = error.message
            if self.step is not None and logins.state_of(self.step.account_id) is None:
                self.step, self.view = None, 'phone'  # the login ended: start over, showing why
            self.render()
            return
        finally:
            self.busy = False
        self.error = None
        if step.notice:
            ui.notify(translate_text(step.notice), type='info')
        await self._show(step)

    async def _show(self, step: LoginStep) -> None:
        self.step = step
        if step.status in (LoginState.CODE_SENT, LoginState.PASSWORD_REQUIRED, LoginState.QR_PENDING):
            app.storage.user[PENDING_LOGIN] = {'account_id': step.account_id, 'phone': self.phone}
        else:
            app.storage.user.pop(PENDING_LOGIN, None)
        if step.status == LoginState.CODE_SENT:
            self.view = 'code'
            self.resend_at = _now() + (step.timeout or 30)
        elif step.status == LoginState.PASSWORD_REQUIRED:
            self.view = 'password'
        elif step.status == LoginState.QR_PENDING:
            self.view, self.qr_url = 'qr', step.url
        elif step.status == LoginState.AUTHORIZED:
            self.view = 'done'
            await self.on_done()
        elif step.status in (LoginState.EXPIRED, LoginState.FAILED) and self.view == 'qr':
            self.view, self.error = 'qr_expired', step.message
        else:
            self.view, self.step, self.error = 'phone', None, step.message or _('The login ended. Start again.')
        self.render()

    async def tick(self) -> None:
        if self.view == 'code':
            self._update_resend()
        elif self.view == 'qr' and self.step is not None and not self.busy:
            try:
                step = await self.root.logins.qr_status(self.step.account_id)
            except LoginError as error:
                self.view, self.error = 'qr_expired', error.message
                self.render()
                return
            if step.status == LoginState.QR_PENDING:
                self.step = step
                if step.url != self.qr_url:
                    self.qr_url = step.url
                    self.qr_image.set_source(qr_data_url(step.url))
                self._update_qr_expiry()
            else:
                await self._show(step)

    def _update_resend(self) -> None:
        left = int(self.resend_at - _now())
        if left > 0:
            self.resend_button.set_text(_('Resend in {seconds} s', seconds=left))
            self.resend_button.disable()
        else:
            self.resend_button.set_text(_('Resend'))
            self.resend_button.enable()

    def _update_qr_expiry(self) -> None:
        if self.step is not None and self.step.expires_at is not None:
            self.qr_expiry.set_text(_('This code refreshes by itself (valid {seconds} s).',
                                      seconds=seconds_left(self.step.expires_at)))


class AccountsView:
    def __init__(self, root: Root) -> None:
        self.root = root
        self.signature: tuple | None = None
        self.wait_labels: dict[str, ui.label] = {}
        self.usage_labels: dict[str, ui.label] = {}
        self.joined: dict[str, tuple[float, int]] = {}  # account -> (when counted, channels joined)
        self.countdowns: dict[str, tuple[ui.label, AccountInfo]] = {}
        self.configured = root.settings.telegram_configured
        with ui.row().classes('w-full items-center justify-between'):
            ui.label(_('The Telegram accounts Parsegram reads channels with.')).classes('text-grey-8')
            self.add_button = ui.button(_('Add account'), icon='add', on_click=lambda: self.wizard.open()) \
                .mark('add-account')
        if not self.configured:  # the frame explains which settings are missing
            self.add_button.disable()
            self.add_button.tooltip(_('Set TELEGRAM_API_ID and TELEGRAM_API_HASH first'))
        self.list = ui.column().classes('w-full gap-2')
        self.dialog_host = ui.element('div')  # dialogs live outside the list, which is re-rendered
        self.wizard = LoginWizard(root, on_done=self.reload)
        ui.timer(1.0, self.reload)

    async def reload(self) -> None:
        manager = self.root.accounts
        database = self.root.database
        if not database.ready:
            self._render_message(_('Connecting to the database…'), 'waiting')
            return
        try:
            infos = await manager.list_accounts()
        except Exception:
            self._render_message(_('The account list is not available right now; retrying…'), 'waiting')
            return
        signature = tuple((i.id, i.state, i.reason, i.display_name, i.username, i.phone_masked, i.flood_wait_until,
                           tuple(i.flood_waits)) for i in infos)
        if signature != self.signature:
            self.signature = signature
            self._render(infos)
        for label, info in self.countdowns.values():
            label.set_text(chip_text(info))
        for info in infos:
            if info.id in self.wait_labels:
                self.wait_labels[info.id].set_text(method_waits_text(info))
            if info.id in self.usage_labels:
                self.usage_labels[info.id].set_text(await self._usage(info.id))

    async def _usage(self, account_id: str) -> str:
        limiter = self.root.channels.limiter
        calls = limiter.recent_calls(account_id)
        per_day = limiter.budgets[MethodClass.RESOLVE].per_day
        counted = self.joined.get(account_id)
        if counted is None or counted[0] < time.monotonic() - JOINED_RECOUNT_SECONDS:  # a count, not every second
            counted = self.joined[account_id] = (time.monotonic(),
                                                 await self.root.repos.channels.count_joined(account_id))
        joined = counted[1]
        return usage_text(calls['minute'], calls['hour'], limiter.left_today(account_id), per_day, joined)

    def _render_message(self, text: str, key: str) -> None:
        if self.signature == (key,):
            return
        self.signature = (key,)
        self.list.clear()
        with self.list:
            ui.label(text).classes('text-grey-7')

    def _render(self, infos: list[AccountInfo]) -> None:
        self.list.clear()
        self.countdowns.clear()
        self.wait_labels.clear()
        self.usage_labels.clear()
        with self.list:
            if not infos:
                with ui.card().classes('w-full items-center py-8').mark('accounts-empty'):
                    ui.icon('person_add', size='3rem').classes('text-grey-6')
                    ui.label(_('No Telegram accounts yet.')).classes('text-subtitle1')
                    ui.label(_('Add an account to read channels with it: log in with its phone number or a QR '
                               'code.')).classes('text-grey-7 text-center')
                    if self.configured:
                        ui.button(_('Add account'), on_click=lambda: self.wizard.open())
                return
            for info in infos:
                self._render_account(info)

    def _render_account(self, info: AccountInfo) -> None:
        with ui.card().classes('w-full').mark(f'account-{info.id}'):
            with ui.row().classes('w-full items-center justify-between no-wrap pg-wrap'):
                with ui.column().classes('gap-0 min-w-0'):
                    ui.label(info.display_name).classes('text-subtitle1 text-weight-medium')
                    details = [f'@{info.username}' if info.username else None, info.phone_masked]
                    ui.label(' · '.join(d for d in details if d)).classes('text-grey-7 text-sm')
                    self.usage_labels[info.id] = ui.label().classes('text-grey-7 text-sm').mark('account-usage')
                    if info.flood_waits:
                        self.wait_labels[info.id] = ui.label(method_waits_text(info)) \
                            .classes('text-orange-9 text-sm').mark('account-method-waits')
                with ui.row().classes('items-center'):
                    with ui.element('q-chip').props(f'dense square color={CHIP_COLORS[info.state]} '
                                                    'text-color=white').mark('account-state'):
                        chip = ui.label(chip_text(info))
                    if info.state == LiveState.FLOOD_WAIT:
                        self.countdowns[info.id] = (chip, info)
                    if info.state == LiveState.REVOKED:
                        ui.button(_('Log in again'), on_click=lambda i=info: self.wizard.open(i.phone or '')) \
                            .props('flat dense').mark('account-relogin')
                        ui.button(_('Remove'), on_click=lambda i=info: self.confirm(i, remove=True)) \
                            .props('flat dense color=negative').mark('account-remove')
                    else:
                        ui.button(_('Log out'), on_click=lambda i=info: self.confirm(i, remove=False)) \
                            .props('flat dense color=negative').mark('account-logout')

    async def confirm(self, info: AccountInfo, *, remove: bool) -> None:
        action = _('Remove') if remove else _('Log out')
        with self.dialog_host, ui.dialog() as dialog, ui.card():
            ui.label(_('Remove {name}?', name=info.display_name) if remove
                     else _('Log out {name}?', name=info.display_name)).classes('text-h6')
            ui.label(_('Parsegram forgets this account.') if remove else
                     _('Telegram ends this session and Parsegram stops using the account until you log it in '
                       'again.'))
            with ui.row().classes('w-full justify-end'):
                ui.button(_('Cancel'), on_click=lambda: dialog.submit(False)).props('flat')
                ui.button(action, color='negative', on_click=lambda: dialog.submit(True)).mark('confirm-logout')
        if await dialog:
            result = await self.root.accounts.log_out(info.id)
            ui.notify(_('{name} removed.', name=info.display_name) if result == 'removed'
                      else _('{name} logged out.', name=info.display_name))
            await self.reload()
        dialog.delete()


def _now() -> float:
    return utcnow().timestamp()


def register(root: Root) -> None:
    @ui.page('/dashboard/accounts')
    async def accounts_page() -> None:
        with frame(_('Accounts')):
            view = AccountsView(root)
            await view.reload()
            await view.wizard.resume_pending()
