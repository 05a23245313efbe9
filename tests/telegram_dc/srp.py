"""The server half of Telegram's SRP 2FA check (https://core.telegram.org/api/srp).

The client proves it knows the password without sending it: the server keeps only the verifier
v = g^x mod p, where x is the salted, PBKDF2-stretched password hash.
"""

import hashlib
import random
from dataclasses import dataclass

# Telegram's 2048-bit safe prime, the one its servers send (with g = 3).
P_BYTES = bytes.fromhex(
    'c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f48198a0aa7c14058229493d22530f4dbfa336f6e0ac925'
    '139543aed44cce7c3720fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f642477fe96bb2a941d5bcd1d4ac8cc49'
    '880708fa9b378e3c4f3a9060bee67cf9a4a4a695811051907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754fd17ed950d59'
    '65b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce9'
    '29851f0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b'
)
P = int.from_bytes(P_BYTES, 'big')
G = 3


def _sha256(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.digest()


def _pad(n: int) -> bytes:
    return n.to_bytes(256, 'big')


def password_hash(password: str, salt1: bytes, salt2: bytes) -> bytes:
    """PH2 from the SRP docs: SH(pbkdf2(sha512, SH(SH(password, salt1), salt2), salt1, 100000), salt2)."""
    h1 = _sha256(salt1, password.encode('utf-8'), salt1)
    h2 = _sha256(salt2, h1, salt2)
    h3 = hashlib.pbkdf2_hmac('sha512', h2, salt1, 100000)
    return _sha256(salt2, h3, salt2)


@dataclass
class PasswordRecord:
    salt1: bytes
    salt2: bytes
    verifier: int
    hint: str = ''


@dataclass
class Challenge:
    srp_id: int
    b: int
    B: int


def make_record(password: str, rng: random.Random, hint: str = '') -> PasswordRecord:
    salt1 = rng.randbytes(40)
    salt2 = rng.randbytes(16)
    x = int.from_bytes(password_hash(password, salt1, salt2), 'big')
    return PasswordRecord(salt1=salt1, salt2=salt2, verifier=pow(G, x, P), hint=hint)


def _k() -> int:
    return int.from_bytes(_sha256(P_BYTES, _pad(G)), 'big')


def make_challenge(record: PasswordRecord, rng: random.Random) -> Challenge:
    """B = k*v + g^b mod p, with g^b large enough for the client's safety checks."""
    while True:
        b = int.from_bytes(rng.randbytes(256), 'big')
        g_b = pow(G, b, P)
        if g_b.bit_length() >= 2048 - 64 and (P - g_b).bit_length() >= 2048 - 64:
            break
    B = (_k() * record.verifier + g_b) % P
    return Challenge(srp_id=rng.getrandbits(63), b=b, B=B)


def check(record: PasswordRecord, challenge: Challenge, a_bytes: bytes, m1: bytes) -> bool:
    """Recompute the client's M1 from A and the verifier; it only matches if the client knew the password."""
    A = int.from_bytes(a_bytes, 'big')
    if not 0 < A < P:
        return False
    a_for_hash = _pad(A)
    b_for_hash = _pad(challenge.B)
    u = int.from_bytes(_sha256(a_for_hash, b_for_hash), 'big')
    S = pow(A * pow(record.verifier, u, P) % P, challenge.b, P)
    K = _sha256(_pad(S))
    expected = _sha256(
        bytes(x ^ y for x, y in zip(_sha256(P_BYTES), _sha256(_pad(G)), strict=True)),
        _sha256(record.salt1),
        _sha256(record.salt2),
        a_for_hash,
        b_for_hash,
        K,
    )
    return expected == m1
