"""One table from every Telethon error a login can meet to (state, HTTP status, error code, what to do)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from telethon import errors

from app.i18n import lazy


class LoginState(StrEnum):
    CODE_SENT = 'code_sent'
    PASSWORD_REQUIRED = 'password_required'
    QR_PENDING = 'qr_pending'
    AUTHORIZED = 'authorized'
    EXPIRED = 'expired'
    CANCELLED = 'cancelled'
    FAILED = 'failed'


TERMINAL_STATES = frozenset({LoginState.AUTHORIZED, LoginState.EXPIRED, LoginState.CANCELLED, LoginState.FAILED})


class ServiceError(Exception):
    """A service refused or failed a request; `status`/`code`/`message` are what the API answers and pages show."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class LoginError(ServiceError):
    """A login step failed."""


@dataclass(frozen=True)
class ErrorRule:
    state: LoginState | None  # the state the login is in afterwards; None: unchanged (try the step again)
    status: int
    code: str
    message: str


_START_AGAIN = LoginState.FAILED
_REVOKED = lazy('Telegram ended this session. Start the login again.')

LOGIN_ERRORS: dict[type[Exception], ErrorRule] = {
    errors.PhoneNumberInvalidError: ErrorRule(
        _START_AGAIN, 400, 'PHONE_NUMBER_INVALID',
        lazy('Telegram does not accept this phone number. Enter it in international format, e.g. +44 7700 900123.')),
    errors.PhoneNumberUnoccupiedError: ErrorRule(
        _START_AGAIN, 400, 'PHONE_NUMBER_UNOCCUPIED',
        lazy('No Telegram account uses this number. Sign up in a Telegram app first, then log in here.')),
    errors.PhoneNumberBannedError: ErrorRule(
        _START_AGAIN, 400, 'PHONE_NUMBER_BANNED',
        lazy('Telegram has banned this phone number. Contact Telegram support, or use another account.')),
    errors.PhoneNumberFloodError: ErrorRule(
        _START_AGAIN, 429, 'PHONE_NUMBER_FLOOD',
        lazy('Too many login attempts for this number. Wait a few hours before trying again.')),
    errors.PhoneNumberAppSignupForbiddenError: ErrorRule(
        _START_AGAIN, 400, 'PHONE_NUMBER_APP_SIGNUP_FORBIDDEN',
        lazy('This number has no Telegram account and cannot sign up from here. Sign up in a Telegram app first.')),
    errors.SendCodeUnavailableError: ErrorRule(
        _START_AGAIN, 400, 'SEND_CODE_UNAVAILABLE',
        lazy('Telegram has used every way to send a code to this number. Wait a while, then start again.')),
    errors.AuthRestartError: ErrorRule(
        _START_AGAIN, 503, 'AUTH_RESTART', lazy('Telegram asked to restart the login. Start again.')),
    errors.ApiIdInvalidError: ErrorRule(
        _START_AGAIN, 503, 'API_ID_INVALID',
        lazy('Telegram rejects TELEGRAM_API_ID / TELEGRAM_API_HASH. Copy both from https://my.telegram.org and '
             'restart.')),
    errors.ApiIdPublishedFloodError: ErrorRule(
        _START_AGAIN, 503, 'API_ID_PUBLISHED_FLOOD',
        lazy('Telegram blocks this TELEGRAM_API_ID because it was published. Create your own at '
             'https://my.telegram.org.')),
    errors.PhoneCodeInvalidError: ErrorRule(
        None, 400, 'PHONE_CODE_INVALID', lazy('That code is not right. Check it and type it again.')),
    errors.PhoneCodeEmptyError: ErrorRule(
        None, 400, 'PHONE_CODE_EMPTY', lazy('Type the code Telegram sent you.')),
    errors.PhoneCodeExpiredError: ErrorRule(
        None, 400, 'PHONE_CODE_EXPIRED', lazy('That code has expired. Press “Resend” to get a new one.')),
    errors.PhoneCodeHashEmptyError: ErrorRule(
        _START_AGAIN, 400, 'PHONE_CODE_HASH_EMPTY', lazy('This login lost its code request. Start again.')),
    errors.SessionPasswordNeededError: ErrorRule(
        LoginState.PASSWORD_REQUIRED, 401, 'SESSION_PASSWORD_NEEDED',
        lazy('This account has two-step verification. Enter its password.')),
    errors.PasswordHashInvalidError: ErrorRule(
        None, 400, 'PASSWORD_HASH_INVALID', lazy('That password is not right. Type it again (see the hint).')),
    errors.PasswordEmptyError: ErrorRule(
        None, 400, 'PASSWORD_EMPTY', lazy('Type the two-step verification password.')),
    errors.SrpIdInvalidError: ErrorRule(
        None, 400, 'SRP_ID_INVALID', lazy('Telegram changed the password challenge. Type the password again.')),
    errors.PhonePasswordFloodError: ErrorRule(
        None, 429, 'PHONE_PASSWORD_FLOOD', lazy('Too many password attempts. Wait a while before trying again.')),
    errors.AuthTokenExpiredError: ErrorRule(
        LoginState.EXPIRED, 400, 'AUTH_TOKEN_EXPIRED', lazy('The QR code expired before it was scanned. Start again.')),
    errors.AuthTokenInvalidError: ErrorRule(
        _START_AGAIN, 400, 'AUTH_TOKEN_INVALID', lazy('Telegram did not accept the QR code. Start again.')),
    errors.AuthTokenAlreadyAcceptedError: ErrorRule(
        _START_AGAIN, 400, 'AUTH_TOKEN_ALREADY_ACCEPTED', lazy('This QR code was already used. Start again.')),
    errors.AuthKeyUnregisteredError: ErrorRule(_START_AGAIN, 409, 'AUTH_KEY_UNREGISTERED', _REVOKED),
    errors.SessionRevokedError: ErrorRule(_START_AGAIN, 409, 'SESSION_REVOKED', _REVOKED),
    errors.SessionExpiredError: ErrorRule(_START_AGAIN, 409, 'SESSION_EXPIRED', _REVOKED),
    errors.UserDeactivatedError: ErrorRule(
        _START_AGAIN, 403, 'USER_DEACTIVATED', lazy('Telegram has deleted or deactivated this account.')),
    errors.UserDeactivatedBanError: ErrorRule(
        _START_AGAIN, 403, 'USER_DEACTIVATED_BAN', lazy('Telegram has banned this account.')),
    errors.FloodWaitError: ErrorRule(
        None, 429, 'FLOOD_WAIT', lazy('Telegram asks to wait {seconds} seconds before trying again.')),
    errors.FloodPremiumWaitError: ErrorRule(
        None, 429, 'FLOOD_WAIT', lazy('Telegram asks to wait {seconds} seconds before trying again.')),
    errors.FloodTestPhoneWaitError: ErrorRule(
        None, 429, 'FLOOD_WAIT', lazy('Telegram asks to wait {seconds} seconds before trying again.')),
}

_FALLBACKS: list[tuple[type[BaseException] | tuple[type[BaseException], ...], ErrorRule]] = [
    (errors.FloodError, ErrorRule(None, 429, 'FLOOD',
                                  lazy('Telegram asks to slow down. Wait a minute and try again.'))),
    (errors.UnauthorizedError, ErrorRule(_START_AGAIN, 409, 'UNAUTHORIZED', _REVOKED)),
    (errors.ServerError, ErrorRule(None, 502, 'TELEGRAM_SERVER_ERROR',
                                   lazy('Telegram had an internal problem. Try again in a moment.'))),
    (errors.RPCError, ErrorRule(None, 502, 'TELEGRAM_ERROR', lazy('Telegram answered with an error: {name}.'))),
    (TimeoutError, ErrorRule(None, 503, 'TELEGRAM_TIMEOUT', lazy('Telegram did not answer in time. Try again.'))),
    # refused, reset, or closed mid-answer (asyncio.IncompleteReadError is an EOFError)
    ((OSError, EOFError), ErrorRule(None, 503, 'TELEGRAM_UNREACHABLE',
                                    lazy('Cannot reach Telegram right now. Check the network and try again.'))),
]

# Errors after which the stored session is useless: the account must log in again.
REVOCATION_ERRORS: tuple[type[Exception], ...] = (
    errors.AuthKeyUnregisteredError, errors.SessionRevokedError, errors.SessionExpiredError,
    errors.UserDeactivatedError, errors.UserDeactivatedBanError, errors.AuthKeyInvalidError,
)
REVOKED_REASON = lazy('revoked — log in again')


def rule_for(exc: BaseException) -> ErrorRule | None:
    rule = LOGIN_ERRORS.get(type(exc))
    if rule is not None:
        return rule
    for cls, fallback in _FALLBACKS:
        if isinstance(exc, cls):
            return fallback
    return None


def flood_seconds(exc: BaseException) -> int | None:
    seconds = getattr(exc, 'seconds', None)
    return int(seconds) if isinstance(exc, errors.FloodError) and seconds is not None else None


def to_login_error(exc: BaseException) -> tuple[LoginError, LoginState | None]:
    """The LoginError to answer with and the state the login moves to (None: stays where it is)."""
    rule = rule_for(exc)
    if rule is None:
        return LoginError(500, 'INTERNAL', lazy('Unexpected error during login: {name}.',
                                                name=type(exc).__name__)), LoginState.FAILED
    seconds = flood_seconds(exc)
    message = lazy(rule.message, seconds=seconds, name=type(exc).__name__)
    return LoginError(rule.status, rule.code, message, retry_after=seconds), rule.state


def is_revocation(exc: BaseException) -> bool:
    return isinstance(exc, REVOCATION_ERRORS)
