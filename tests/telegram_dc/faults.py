"""Faults injected on demand: FLOOD_WAIT, INTERNAL errors, slow answers, dropped connections and any Telegram
error by name."""

import re
from dataclasses import dataclass

from telethon.tl.tlobject import TLObject

# Status codes Telegram uses for error names that are not 400.
_CODES = {
    'AUTH_KEY_UNREGISTERED': 401,
    'AUTH_KEY_INVALID': 401,
    'USER_DEACTIVATED': 401,
    'USER_DEACTIVATED_BAN': 401,
    'SESSION_REVOKED': 401,
    'SESSION_EXPIRED': 401,
    'SESSION_PASSWORD_NEEDED': 401,
    'AUTH_KEY_PERM_EMPTY': 401,
    'CHAT_WRITE_FORBIDDEN': 403,
    'CHAT_ADMIN_REQUIRED': 403,
    'USER_PRIVACY_RESTRICTED': 403,
    'INTERNAL': 500,
    'RPC_CALL_FAIL': 500,
    'TIMEOUT': 500,
}


def error_code(name: str) -> int:
    if name.startswith(('FLOOD_WAIT_', 'SLOWMODE_WAIT_', 'FLOOD_PREMIUM_WAIT_')):
        return 420
    if name.startswith(('PHONE_MIGRATE_', 'NETWORK_MIGRATE_', 'USER_MIGRATE_', 'FILE_MIGRATE_')):
        return 303
    return _CODES.get(name, 400)


def tl_name(request: TLObject) -> str:
    """`auth.sendCode` for telethon.tl.functions.auth.SendCodeRequest."""
    cls = type(request)
    name = cls.__name__.removesuffix('Request')
    name = name[:1].lower() + name[1:]
    namespace = cls.__module__.rsplit('.', 1)[-1]
    return name if namespace == 'functions' else f'{namespace}.{name}'


def _normalise(method: str) -> str:
    return re.sub(r'[^a-z0-9.]', '', method.lower().removesuffix('request'))


@dataclass
class Fault:
    method: str
    error: str
    seconds: float | None
    count: int

    def matches(self, request: TLObject) -> bool:
        want = _normalise(self.method)
        if want in ('*', ''):
            return True
        cls_name = _normalise(type(request).__name__)
        full = _normalise(tl_name(request))
        return want in (cls_name, full) or ('.' not in want and full.rsplit('.', 1)[-1] == want)


class ConnectionDropped(ConnectionError):
    """A DROP fault: the server closes the connection without answering."""


@dataclass(frozen=True)
class FaultAction:
    """What to do with one call: wait `delay` seconds, then fail with (code, message) or go on."""

    delay: float = 0.0
    code: int | None = None
    message: str | None = None
    drop: bool = False  # close the connection instead of answering, as an overloaded server does


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, method: str, error: str, seconds: float | None = None, count: int = 1) -> Fault:
        error = error.strip().upper()
        if error == 'FLOOD_WAIT' and seconds is None:
            raise ValueError('FLOOD_WAIT needs seconds')
        if error == 'SLOW' and seconds is None:
            raise ValueError('SLOW needs seconds')
        if count < 1:
            raise ValueError('count must be at least 1')
        fault = Fault(method=method, error=error, seconds=seconds, count=count)
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[Fault]:
        return list(self._faults)

    def left(self) -> int:
        return sum(fault.count for fault in self._faults)

    def take(self, request: TLObject, *, drops_only: bool = False) -> FaultAction | None:
        """The action for this call, consuming one use of the first matching fault.

        The key exchange asks with `drops_only`: an error answer has no meaning there, and a fault for every
        method ('*') is meant for the calls that follow it."""
        for fault in self._faults:
            if fault.matches(request) and (fault.error == 'DROP' or not drops_only):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return _action(fault)
        return None


def _action(fault: Fault) -> FaultAction:
    if fault.error == 'DROP':
        return FaultAction(drop=True)
    if fault.error == 'SLOW':
        return FaultAction(delay=float(fault.seconds or 0))
    if fault.error == 'FLOOD_WAIT':
        return FaultAction(code=420, message=f'FLOOD_WAIT_{int(fault.seconds or 0)}')
    if fault.error == 'INTERNAL':
        return FaultAction(code=500, message='INTERNAL')
    return FaultAction(code=error_code(fault.error), message=fault.error)
