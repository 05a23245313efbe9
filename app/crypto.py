"""Encryption at rest for Telegram sessions: Fernet with a key derived from SECRET_KEY."""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret_key: str, purpose: bytes, length: int = 32) -> bytes:
    """A key for one purpose, so the same SECRET_KEY never serves two uses directly."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b'parsegram', info=purpose).derive(secret_key.encode())


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError('secret_key must not be empty')
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, b'session-encryption')))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError, TypeError) as error:
            raise ValueError('cannot decrypt: wrong SECRET_KEY or damaged data') from error

    def __repr__(self) -> str:
        return 'SecretBox(<hidden>)'
