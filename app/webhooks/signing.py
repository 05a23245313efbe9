"""Signatures: HMAC-SHA256 of `timestamp + "." + raw body` with the webhook's secret, sent as `sha256=<hex>`."""
from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = 'whsec_'


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b'.' + body, hashlib.sha256).hexdigest()
    return f'sha256={digest}'


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), header)
