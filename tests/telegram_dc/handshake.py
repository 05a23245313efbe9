"""Server side of the MTProto auth-key exchange (req_pq_multi → req_DH_params → set_client_DH_params)."""

import hashlib
import logging
import os
import secrets
import time

from telethon.extensions import BinaryReader
from telethon.helpers import generate_key_data_from_nonce
from telethon.tl import functions, types
from telethon.tl.tlobject import TLObject

from .keys import DH_G, DH_PRIME, ServerKey, aux_hash_and_key_id, decrypt_ige, encrypt_ige, int_to_bytes, new_pq

log = logging.getLogger(__name__)

_SAFETY = 2 ** (2048 - 64)


class HandshakeError(Exception):
    """The client broke the key exchange; the connection is dropped."""


def new_nonce_hash(new_nonce: int, number: int, key: bytes) -> int:
    aux_hash, _ = aux_hash_and_key_id(key)
    data = new_nonce.to_bytes(32, 'little', signed=True) + bytes([number]) + aux_hash.to_bytes(8, 'little')
    return int.from_bytes(hashlib.sha1(data).digest()[4:20], 'little', signed=True)


def _rsa_pad_decrypt(key: ServerKey, cipher: bytes) -> bytes | None:
    """RSA_PAD as in Telegram's current spec; returns the inner data (with its zero padding) or None."""
    value = key.decrypt_int(cipher)
    if value.bit_length() > 2048:
        return None
    block = value.to_bytes(256, 'big')
    temp_key_xor, aes_encrypted = block[:32], block[32:]
    aes_hash = hashlib.sha256(aes_encrypted).digest()
    temp_key = bytes(a ^ b for a, b in zip(temp_key_xor, aes_hash, strict=True))
    data_with_hash = decrypt_ige(aes_encrypted, temp_key, b'\0' * 32)
    data_with_padding = data_with_hash[:192][::-1]
    if hashlib.sha256(temp_key + data_with_padding).digest() != data_with_hash[192:]:
        return None
    return data_with_padding


def decrypt_inner_data(key: ServerKey, cipher: bytes) -> TLObject:
    value = key.decrypt_int(cipher)
    if value.bit_length() <= 255 * 8:
        block = value.to_bytes(255, 'big')
        reader = BinaryReader(block[20:])
        try:
            inner = reader.tgread_object()
            consumed = reader.tell_position()
        except Exception:  # noqa: BLE001 - not the old format, try RSA_PAD below
            inner = None
        if inner is not None and hashlib.sha1(block[20 : 20 + consumed]).digest() == block[:20]:
            return inner
    padded = _rsa_pad_decrypt(key, cipher)
    if padded is None:
        raise HandshakeError('cannot decrypt the inner data')
    return BinaryReader(padded).tgread_object()


class Handshake:
    """State of one key exchange on one connection."""

    def __init__(self, server_key: ServerKey) -> None:
        self.server_key = server_key
        self.nonce: int | None = None
        self.server_nonce: int | None = None
        self.new_nonce: int | None = None
        self.pq = self.p = self.q = 0
        self.a = 0
        self.tmp_key = self.tmp_iv = b''

    def handle(self, request: TLObject) -> tuple[TLObject, bytes | None]:
        """Answer one plain request; the second item is the new auth key once the exchange completes."""
        if isinstance(request, (functions.ReqPqMultiRequest, functions.ReqPqRequest)):
            return self._res_pq(request), None
        if isinstance(request, functions.ReqDHParamsRequest):
            return self._dh_params(request), None
        if isinstance(request, functions.SetClientDHParamsRequest):
            return self._client_dh(request)
        raise HandshakeError(f'unexpected plain message {type(request).__name__}')

    def _res_pq(self, request: TLObject) -> TLObject:
        self.nonce = request.nonce
        self.server_nonce = int.from_bytes(os.urandom(16), 'little', signed=True)
        self.pq, self.p, self.q = new_pq()
        self.new_nonce = None
        return types.ResPQ(
            nonce=self.nonce,
            server_nonce=self.server_nonce,
            pq=self.pq.to_bytes(8, 'big'),  # Telethon reads it signed: keep the top bit clear
            server_public_key_fingerprints=[self.server_key.fingerprint],
        )

    def _check_nonces(self, request: TLObject) -> None:
        if request.nonce != self.nonce or request.server_nonce != self.server_nonce:
            raise HandshakeError('nonce mismatch')

    def _dh_params(self, request: functions.ReqDHParamsRequest) -> TLObject:
        self._check_nonces(request)
        if request.public_key_fingerprint != self.server_key.fingerprint:
            raise HandshakeError('unknown public key fingerprint')
        inner = decrypt_inner_data(self.server_key, request.encrypted_data)
        if not isinstance(
            inner, (types.PQInnerData, types.PQInnerDataDc, types.PQInnerDataTemp, types.PQInnerDataTempDc)
        ):
            raise HandshakeError('bad inner data')
        if inner.nonce != self.nonce or inner.server_nonce != self.server_nonce:
            raise HandshakeError('inner nonce mismatch')
        if int.from_bytes(inner.p, 'big') != self.p or int.from_bytes(inner.q, 'big') != self.q:
            raise HandshakeError('wrong factorisation')
        self.new_nonce = inner.new_nonce
        while True:
            # A 256-bit secret exponent: g_a still spans the whole group, at an eighth of the work.
            self.a = secrets.randbits(256) | (1 << 255)
            g_a = pow(DH_G, self.a, DH_PRIME)
            if _SAFETY <= g_a <= DH_PRIME - _SAFETY:
                break
        answer = bytes(
            types.ServerDHInnerData(
                nonce=self.nonce,
                server_nonce=self.server_nonce,
                g=DH_G,
                dh_prime=int_to_bytes(DH_PRIME),
                g_a=int_to_bytes(g_a),
                server_time=int(time.time()),
            )
        )
        plain = hashlib.sha1(answer).digest() + answer
        plain += os.urandom(-len(plain) % 16)
        self.tmp_key, self.tmp_iv = generate_key_data_from_nonce(self.server_nonce, self.new_nonce)
        return types.ServerDHParamsOk(
            nonce=self.nonce,
            server_nonce=self.server_nonce,
            encrypted_answer=encrypt_ige(plain, self.tmp_key, self.tmp_iv),
        )

    def _client_dh(self, request: functions.SetClientDHParamsRequest) -> tuple[TLObject, bytes | None]:
        self._check_nonces(request)
        if self.new_nonce is None:
            raise HandshakeError('set_client_DH_params before req_DH_params')
        plain = decrypt_ige(request.encrypted_data, self.tmp_key, self.tmp_iv)
        reader = BinaryReader(plain[20:])
        inner = reader.tgread_object()
        if hashlib.sha1(plain[20 : 20 + reader.tell_position()]).digest() != plain[:20]:
            raise HandshakeError('bad client DH hash')
        if not isinstance(inner, types.ClientDHInnerData):
            raise HandshakeError('bad client DH inner data')
        g_b = int.from_bytes(inner.g_b, 'big')
        if not (_SAFETY <= g_b <= DH_PRIME - _SAFETY):
            raise HandshakeError('g_b out of range')
        # The client keeps the key as minimal big-endian bytes; a key with a leading zero byte would not
        # survive a saved session (which pads at the end), so ask the client to try again instead.
        key = int_to_bytes(pow(g_b, self.a, DH_PRIME))
        if len(key) != 256:
            answer = types.DhGenRetry(self.nonce, self.server_nonce, new_nonce_hash(self.new_nonce, 2, key))
            return answer, None
        answer = types.DhGenOk(self.nonce, self.server_nonce, new_nonce_hash(self.new_nonce, 1, key))
        return answer, key
