"""Dashboard password and API tokens. Only hashes are stored: scrypt for the password, sha256 for tokens."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field

from loguru import logger
from nicegui import run

from app.clock import Clock, SystemClock
from app.config import Settings
from app.db.admin_repo import AdminRepo
from app.db.api_tokens_repo import ApiTokensRepo
from app.db.models import ApiToken

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
TOKEN_PREFIX = 'pgt_'


class AuthUnavailable(RuntimeError):
    """The stored password cannot be read (the database is not ready)."""


# ---------------------------------------------------------------- password hashing

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip('=')


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f'scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}'


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split('$')
        if scheme != 'scrypt':
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def generate_password() -> str:
    return secrets.token_urlsafe(18)


# ---------------------------------------------------------------- login throttling

@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


@dataclass
class LoginThrottle:
    """Growing delay after repeated wrong passwords, per client address.

    The first `free_attempts` failures cost nothing; each further one doubles the wait (2 s, 4 s, ... up to
    `max_delay`). Failures are forgotten after `forget_after` seconds without one, or on a successful login.
    """

    free_attempts: int = 3
    base_delay: float = 2.0
    max_delay: float = 300.0
    forget_after: float = 3600.0
    clock: Clock = field(default_factory=SystemClock)
    _failures: dict[str, _Failures] = field(default_factory=dict)

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _entry(self, key: str) -> _Failures | None:
        entry = self._failures.get(key)
        if entry and self._now() - entry.last > self.forget_after:
            del self._failures[key]
            return None
        return entry

    def delay_for(self, count: int) -> float:
        if count < self.free_attempts:
            return 0.0
        return min(self.base_delay * 2 ** (count - self.free_attempts), self.max_delay)

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may try again (0 when it may try now)."""
        entry = self._entry(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.last + self.delay_for(entry.count) - self._now())

    def failed(self, key: str) -> float:
        entry = self._entry(key) or self._failures.setdefault(key, _Failures())
        entry.count += 1
        entry.last = self._now()
        return self.delay_for(entry.count)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


# ---------------------------------------------------------------- the admin password

class AdminAuth:
    """ADMIN_PASSWORD when set (only a keyed hash of it is kept), else the generated password's hash in `admin`."""

    def __init__(self, *, settings: Settings, repo: AdminRepo) -> None:
        self._repo = repo
        # ADMIN_PASSWORD is in this process's environment anyway, so a fast keyed digest compared in constant
        # time is enough here; scrypt protects the generated password's hash stored in the database
        self._env_key = secrets.token_bytes(32)
        self._env_hash = self._env_digest(settings.admin_password) if settings.admin_password else None

    def _env_digest(self, password: str) -> bytes:
        return hmac.new(self._env_key, password.encode(), hashlib.sha256).digest()

    @property
    def from_environment(self) -> bool:
        return self._env_hash is not None

    async def ensure_password(self) -> str | None:
        """On first start without ADMIN_PASSWORD: generate one, print it once, store only its hash.

        Returns the generated password (for the caller to show), or None when nothing was generated.
        """
        if self._env_hash is not None:
            return None
        if await self._repo.get() is not None:
            return None
        password = generate_password()
        password_hash = await run.io_bound(hash_password, password)
        if password_hash is None:  # the app is shutting down
            return None
        if not await self._repo.create_if_missing(password_hash=password_hash):
            return None
        # printed, not logged: it must reach the person starting the app, but never a log file
        print('\n' + '=' * 72 + '\n'
              f'  Parsegram dashboard password (shown only once): {password}\n'
              '  Set ADMIN_PASSWORD to choose your own. Only a hash of this one is stored.\n'
              + '=' * 72 + '\n', flush=True)
        logger.info('Generated the dashboard password and stored its hash (printed once to the console)')
        return password

    async def verify(self, password: str) -> bool:
        if self._env_hash is not None:
            return hmac.compare_digest(self._env_digest(password), self._env_hash)
        try:
            admin = await self._repo.get()
        except Exception as error:
            raise AuthUnavailable('the database is not reachable') from error
        if admin is None:
            raise AuthUnavailable('the password has not been set up yet')
        return bool(await run.io_bound(verify_password, password, admin.password_hash))


# ---------------------------------------------------------------- API tokens

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


ENV_TOKEN_HOLDER = 'env'


class ApiTokens:
    """Bearer tokens for the JSON API: API_TOKEN from the environment, or tokens made on the Settings page."""

    def __init__(self, *, settings: Settings, repo: ApiTokensRepo) -> None:
        self._repo = repo
        self._env_hash = hash_token(settings.api_token) if settings.api_token else None

    async def create(self, *, name: str) -> tuple[ApiToken, str]:
        """A new token; the plain value is returned once and only its hash is stored."""
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = ApiToken(id=uuid.uuid4().hex, name=name.strip() or 'token', token_hash=hash_token(plain),
                          prefix=plain[:len(TOKEN_PREFIX) + 6])
        await self._repo.create(token=record)
        logger.info('API token {!r} created ({}…)', record.name, record.prefix)
        return record, plain

    async def verify(self, token: str) -> bool:
        return await self.holder(token) is not None

    async def holder(self, token: str) -> str | None:
        """Who a valid token belongs to ('env' for API_TOKEN, else the token's id), or None when it is not valid."""
        if not token:
            return None
        token_hash = hash_token(token)
        if self._env_hash is not None and hmac.compare_digest(token_hash, self._env_hash):
            return ENV_TOKEN_HOLDER
        record = await self._repo.find_active(token_hash=token_hash)
        if record is None:
            return None
        try:
            await self._repo.touch(token_id=record.id)
        except Exception:  # last-used is informative only
            pass
        return record.id

    async def list(self) -> list[ApiToken]:
        return await self._repo.list()

    async def revoke(self, *, token_id: str) -> bool:
        revoked = await self._repo.revoke(token_id=token_id)
        if revoked:
            logger.info('API token {} revoked', token_id)
        return revoked
