"""Key material of the test DC: its RSA key pair, the DH group, the pq challenge, auth keys and AES-IGE."""

import ctypes
import hashlib
import os
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa as crypto_rsa

# The 2048-bit safe prime Telegram's own servers use; with g=3 it satisfies every check a client makes.
DH_PRIME = int(
    'C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DB'
    'FA336F6E0AC925139543AED44CCE7C3720FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64'
    '2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4A4A695811051907E162753B56B0F6B41'
    '0DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4'
    'E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F0D8115F635B105EE2E4E15D04B2454BF'
    '6F4FADF034B10403119CD8E3B92FCC5B',
    16,
)
DH_G = 3


def int_to_bytes(value: int) -> bytes:
    """Big-endian bytes of minimal length, as MTProto serialises big numbers."""
    return value.to_bytes((value.bit_length() + 7) // 8, 'big')


def tl_bytes(data: bytes) -> bytes:
    """TL `bytes` serialisation (length prefix and 4-byte alignment)."""
    if len(data) < 254:
        head = bytes([len(data)])
        pad = -(len(data) + 1) % 4
    else:
        head = b'\xfe' + len(data).to_bytes(3, 'little')
        pad = -len(data) % 4
    return head + data + b'\0' * pad


@dataclass(frozen=True)
class ServerKey:
    n: int
    e: int
    d: int
    p: int
    q: int
    dmp1: int
    dmq1: int
    iqmp: int
    public_key_pem: bytes
    fingerprint: int

    @classmethod
    def generate(cls) -> 'ServerKey':
        private = crypto_rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = private.private_numbers()
        n, e = numbers.public_numbers.n, numbers.public_numbers.e
        pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        digest = hashlib.sha1(tl_bytes(int_to_bytes(n)) + tl_bytes(int_to_bytes(e))).digest()
        fingerprint = struct.unpack('<q', digest[-8:])[0]
        return cls(
            n=n,
            e=e,
            d=numbers.d,
            p=numbers.p,
            q=numbers.q,
            dmp1=numbers.dmp1,
            dmq1=numbers.dmq1,
            iqmp=numbers.iqmp,
            public_key_pem=pem,
            fingerprint=fingerprint,
        )

    def decrypt_int(self, cipher: bytes) -> int:
        # Chinese remainder theorem: about three times faster than pow(c, d, n).
        c = int.from_bytes(cipher, 'big') % self.n
        m1, m2 = pow(c, self.dmp1, self.p), pow(c, self.dmq1, self.q)
        return m2 + self.q * ((self.iqmp * (m1 - m2)) % self.p)


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        if _is_prime(candidate):
            return candidate


def new_pq() -> tuple[int, int, int]:
    """A pq challenge: the product of two distinct primes (p < q).

    Telegram uses two ~31-bit primes, which Telethon's pure-Python factorisation needs ~30 ms for; that adds up
    over the hundreds of connections a test run makes. A 16-bit and a 32-bit prime take ~0.3 ms. Two equal-sized
    small primes (24-bit) are fast too, but there Telethon's Pollard-Brent sometimes closes both cycles in one
    block and answers (1, pq): about 1 handshake in 4,000 failed with "wrong factorisation". Unequal sizes
    did not fail once in 120,000 tries."""
    p, q = random_prime(16), random_prime(32)  # distinct and ordered by their sizes
    return p * q, p, q


def aux_hash_and_key_id(key: bytes) -> tuple[int, int]:
    digest = hashlib.sha1(key).digest()
    return int.from_bytes(digest[:8], 'little'), int.from_bytes(digest[12:20], 'little')


@dataclass
class AuthKeyRecord:
    key: bytes
    key_id: int
    salt: int
    created: float = field(default_factory=time.time)
    salts: set[int] = field(default_factory=set)
    sessions: set[int] = field(default_factory=set)


class KeyStore:
    """Every auth key made during the server's life, by auth_key_id."""

    def __init__(self) -> None:
        self._keys: dict[int, AuthKeyRecord] = {}

    def add(self, key: bytes) -> AuthKeyRecord:
        _, key_id = aux_hash_and_key_id(key)
        salt = struct.unpack('<q', os.urandom(8))[0]
        record = AuthKeyRecord(key=key, key_id=key_id, salt=salt, salts={salt})
        self._keys[key_id] = record
        return record

    def get(self, key_id: int) -> AuthKeyRecord | None:
        return self._keys.get(key_id)

    def forget(self, key_id: int) -> None:
        self._keys.pop(key_id, None)

    def __len__(self) -> int:
        return len(self._keys)


def _fast_ige() -> tuple[Any, Any] | None:
    """AES-256-IGE straight from libcrypto, copying buffers in C (Telethon's own wrapper copies byte by byte)."""
    from telethon.crypto import libssl

    lib = getattr(libssl, '_libssl', None)
    if lib is None or getattr(libssl, 'AES_KEY', None) is None:
        return None
    key_type = libssl.AES_KEY

    def run(data: bytes, key: bytes, iv: bytes, encrypt: bool) -> bytes:
        # libcrypto aborts the whole process on a partial block, so refuse it here.
        if len(data) % 16 or len(key) != 32 or len(iv) != 32:
            raise ValueError('AES-IGE needs whole 16-byte blocks, a 32-byte key and a 32-byte IV')
        aes_key = key_type()
        key_buf = (ctypes.c_ubyte * len(key)).from_buffer_copy(key)
        if encrypt:
            lib.AES_set_encrypt_key(key_buf, ctypes.c_int(8 * len(key)), ctypes.byref(aes_key))
        else:
            lib.AES_set_decrypt_key(key_buf, ctypes.c_int(8 * len(key)), ctypes.byref(aes_key))
        iv_buf = (ctypes.c_ubyte * len(iv)).from_buffer_copy(iv)
        in_buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
        out_buf = (ctypes.c_ubyte * len(data))()
        lib.AES_ige_encrypt(
            ctypes.byref(in_buf),
            ctypes.byref(out_buf),
            ctypes.c_size_t(len(data)),
            ctypes.byref(aes_key),
            ctypes.byref(iv_buf),
            ctypes.c_int(1 if encrypt else 0),
        )
        return bytes(out_buf)

    def encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
        return run(data, key, iv, True)

    def decrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
        return run(data, key, iv, False)

    return encrypt, decrypt


_FAST = _fast_ige()
if _FAST is not None:
    encrypt_ige, decrypt_ige = _FAST
else:  # pragma: no cover - machines without libcrypto fall back to Telethon's implementation
    from telethon.crypto import AES

    encrypt_ige, decrypt_ige = AES.encrypt_ige, AES.decrypt_ige
