"""Settings from the environment (or a `.env` file), validated with messages a person can act on."""
from __future__ import annotations

import os
import secrets
import sys
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {
    'changeme', 'change-me', 'change_me', 'changethis', 'secret', 'password', 'passw0rd', 'xxx', 'xxxx', 'todo',
    'example', 'default', 'admin', 'token', 'your-secret', 'your_secret', 'your-token', 'your-password', 'none',
    'null', '123456', '12345678',
}
LOG_LEVELS = {'TRACE', 'DEBUG', 'INFO', 'SUCCESS', 'WARNING', 'ERROR', 'CRITICAL'}
SECRET_KEY_FILE = 'secret_key'


def _is_placeholder(value: str) -> bool:
    plain = value.strip().lower()
    return plain in PLACEHOLDERS or (plain.startswith('<') and plain.endswith('>')) or plain.startswith('your')


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file='.env', env_file_encoding='utf-8', env_ignore_empty=True,
                                      extra='ignore', case_sensitive=False)

    telegram_api_id: int | None = None
    telegram_api_hash: str | None = None
    mongo_uri: str | None = None
    mongo_db: str = 'parsegram'
    host: str = '127.0.0.1'
    port: int = 4000
    data_dir: Path = Path('data')
    secret_key: str | None = None
    admin_password: str | None = None
    api_token: str | None = None
    telegram_dc: str | None = None
    telegram_dc_id: int | None = None
    telegram_public_key: Path | None = None
    log_level: str = 'INFO'
    # Request pacing per account, safe for the real Telegram (TELEGRAM_LIMITS in the docs has the sources).
    history_requests_per_second: float = 1.0
    history_burst: int = 3
    resolves_per_day: int = 200
    resolve_interval_seconds: float = 15.0
    join_interval_seconds: float = 60.0
    # file parts (upload.getFile, 512 KiB each) an account asks for a second, sustained, and at once after a pause
    file_parts_per_second: float = 4.8
    file_burst: int = 8
    # Multiplies every per-account request rate: for test servers only; above 1 it risks real accounts.
    request_pace_scale: float = 1.0
    # Requests: the largest body read, how long a shutdown waits for requests in flight, and the proxies (addresses,
    # comma-separated) whose X-Forwarded-For is believed; none by default, so a client cannot pick its address.
    max_body_bytes: int = 1 << 20
    shutdown_grace_seconds: int = 10
    trusted_proxies: str = ''
    # The change feed keeps every change at least this long, and longer until every consumer has read it.
    feed_keep_days: int = 30
    # Webhooks may not send to loopback, link-local or private addresses: `true` allows every address, a list
    # (`10.0.0.5,192.168.1.0/24`) just those.
    webhook_allow_private: str = 'false'
    # Set by `parsegram --demo` only: the dashboard says it is talking to the demo server, not Telegram.
    demo: bool = False

    @property
    def telegram_configured(self) -> bool:
        return self.telegram_api_id is not None and bool(self.telegram_api_hash)

    @field_validator('history_requests_per_second', 'resolve_interval_seconds', 'join_interval_seconds',
                     'request_pace_scale', 'file_parts_per_second')
    @classmethod
    def _positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f'must be a positive number (got {value})')
        return value

    @field_validator('history_burst', 'resolves_per_day', 'max_body_bytes', 'shutdown_grace_seconds', 'file_burst')
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f'must be at least 1 (got {value})')
        return value

    @field_validator('port')
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError(f'must be a port number between 1 and 65535 (got {value})')
        return value

    @field_validator('telegram_api_id')
    @classmethod
    def _api_id(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError(f'must be the positive number shown at my.telegram.org (got {value})')
        return value

    @field_validator('telegram_api_hash')
    @classmethod
    def _api_hash(cls, value: str | None) -> str | None:
        if value is not None and _is_placeholder(value):
            raise ValueError('is a placeholder; copy the api_hash from my.telegram.org → API development tools')
        return value

    @field_validator('mongo_uri')
    @classmethod
    def _mongo_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(('mongodb://', 'mongodb+srv://')):
            raise ValueError('must start with mongodb:// or mongodb+srv:// (or be unset to use the embedded database)')
        if value.startswith('mongodb://'):
            from pymongo.uri_parser import parse_uri  # local: only needed when a URI is given

            try:
                parse_uri(value)
            except Exception as error:  # pymongo raises several error types for malformed URIs
                raise ValueError(f'is not a valid MongoDB URI: {error}') from None
        elif value.removeprefix('mongodb+srv://').split('/', 1)[0].count('.') < 2:
            raise ValueError('mongodb+srv:// needs a full host name such as cluster0.example.net')
        return value

    @field_validator('mongo_db')
    @classmethod
    def _mongo_db(cls, value: str) -> str:
        if not value or any(ch in value for ch in '/\\. "$') or len(value) > 63:
            raise ValueError(f'is not a usable database name (got {value!r})')
        return value

    @field_validator('data_dir')
    @classmethod
    def _data_dir(cls, value: Path) -> Path:
        try:
            value.mkdir(parents=True, exist_ok=True)
            probe = value / f'.write-test-{uuid.uuid4().hex}'
            probe.write_text('ok')
            probe.unlink()
        except OSError as error:
            reason = error.strerror or str(error)
            raise ValueError(f'{str(value)!r} is not a writable directory ({reason}); '
                             'point DATA_DIR at a folder this user can write') from None
        return value

    @field_validator('secret_key')
    @classmethod
    def _secret_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _is_placeholder(value):
            raise ValueError('is a placeholder; set a long random value or leave it unset to have one generated')
        if len(value) < 16:
            raise ValueError('is too short; use at least 16 random characters or leave it unset')
        return value

    @field_validator('admin_password')
    @classmethod
    def _admin_password(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _is_placeholder(value):
            raise ValueError('is a placeholder; choose a real password or leave it unset to have one generated')
        if len(value) < 8:
            raise ValueError('is too short; use at least 8 characters')
        return value

    @field_validator('api_token')
    @classmethod
    def _api_token(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _is_placeholder(value):
            raise ValueError('is a placeholder; set a long random value or create tokens on the Settings page')
        if len(value) < 16:
            raise ValueError('is too short; use at least 16 random characters')
        return value

    @field_validator('telegram_dc')
    @classmethod
    def _telegram_dc(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(':')
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f'must be host:port, for example 127.0.0.1:4430 (got {value!r})')
        return value

    @field_validator('telegram_public_key')
    @classmethod
    def _public_key(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f'must be the path of a PEM file; {str(value)!r} does not exist')
        return value

    @field_validator('log_level')
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            raise ValueError(f'must be one of {", ".join(sorted(LOG_LEVELS))} (got {value!r})')
        return level


def _describe(error: dict[str, Any]) -> str:
    name = str(error['loc'][0]).upper() if error.get('loc') else 'settings'
    given = error.get('input')
    kind = error.get('type', '')
    if kind in {'int_parsing', 'int_type', 'int_from_float'}:
        return f'{name} must be a whole number (got {given!r})'
    message = str(error.get('msg', 'is invalid')).removeprefix('Value error, ').rstrip('.')
    return f'{name} {message}'


def format_errors(error: ValidationError) -> str:
    return '; '.join(_describe(item) for item in error.errors())


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; on a bad value print one line naming the variable and exit."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        print(f'Parsegram cannot start: {format_errors(error)}. Fix the setting (environment or .env) and retry.',
              file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def resolve_secret_key(settings: Settings) -> str:
    """SECRET_KEY, or the key generated once into DATA_DIR (owner-only file) and reused on every start."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / SECRET_KEY_FILE
    if path.is_file():
        stored = path.read_text().strip()
        if stored:
            return stored
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(key + '\n')
    os.chmod(path, 0o600)
    return key


def protect_data_dir(data_dir: Path) -> None:
    """DATA_DIR and everything in it readable by this user only (0700 folders, 0600 files): it holds the secret key,
    dashboard sessions and the database. Also mends what an older version created with wider modes."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)
    for folder, folders, files in os.walk(data_dir):
        for name in folders:
            (Path(folder) / name).chmod(0o700)
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                path.chmod(0o600)
