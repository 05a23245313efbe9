"""The unmodified Telethon client speaks MTProto 2.0 with the test DC over each TCP transport."""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
from datetime import UTC, datetime

import pytest
from telethon import TelegramClient, connection, functions, types
from telethon.crypto import AES, rsa
from telethon.errors import (
    AuthKeyNotFound,
    AuthKeyUnregisteredError,
    BadRequestError,
    InputConstructorInvalidError,
)
from telethon.sessions import StringSession
from telethon.tl.tlobject import TLRequest

from tests.support import eventually
from tests.telegram_dc.handshake import decrypt_inner_data
from tests.telegram_dc.keys import ServerKey
from tests.telegram_dc.server import TelegramDC

TRANSPORTS = [connection.ConnectionTcpFull, connection.ConnectionTcpIntermediate, connection.ConnectionTcpAbridged]


class ProtoError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class ConfigOnlyWorld:
    """Answers help.getConfig and nothing else, so these tests depend on the protocol layer alone."""

    dc_id = 2
    host = ''
    port = 0

    def __init__(self) -> None:
        self.attached: list = []
        self.detached: list = []
        self.requests: list = []

    def attach(self, client) -> None:
        self.attached.append(client)

    def detach(self, client) -> None:
        self.detached.append(client)

    async def invoke(self, client, request):
        self.requests.append(type(request).__name__)
        if isinstance(request, functions.help.GetConfigRequest):
            return config(self.dc_id, self.host, self.port)
        if isinstance(request, functions.updates.GetStateRequest):
            return types.updates.State(pts=1, qts=0, date=datetime.now(UTC), seq=0, unread_count=0)
        if isinstance(request, functions.contacts.GetContactIDsRequest):
            return list(range(5, 2005))  # large enough to be sent gzip_packed
        raise ProtoError(401, 'AUTH_KEY_UNREGISTERED')


def config(dc_id: int, host: str, port: int) -> types.Config:
    now = datetime.now(UTC)
    ms = dict.fromkeys(
        (
            'online_update_period_ms',
            'offline_blur_timeout_ms',
            'offline_idle_timeout_ms',
            'online_cloud_timeout_ms',
            'notify_cloud_delay_ms',
            'notify_default_delay_ms',
            'push_chat_period_ms',
            'call_receive_timeout_ms',
            'call_ring_timeout_ms',
            'call_connect_timeout_ms',
            'call_packet_timeout_ms',
        ),
        1000,
    )
    return types.Config(
        date=now,
        expires=now,
        test_mode=True,
        this_dc=dc_id,
        dc_options=[types.DcOption(dc_id, host, port)],
        dc_txt_domain_name='localhost',
        chat_size_max=200,
        megagroup_size_max=200000,
        forwarded_count_max=100,
        push_chat_limit=2,
        edit_time_limit=172800,
        revoke_time_limit=172800,
        revoke_pm_time_limit=172800,
        rating_e_decay=2419200,
        stickers_recent_limit=30,
        channels_read_media_period=604800,
        me_url_prefix='https://t.me/',
        caption_length_max=1024,
        message_length_max=4096,
        webfile_dc_id=dc_id,
        **ms,
    )


@pytest.fixture(scope='module')
def proto_dc():
    world = ConfigOnlyWorld()
    dc = TelegramDC(world).start_in_thread()
    rsa.add_key(dc.public_key_pem.decode(), old=False)
    yield dc
    dc.stop_thread()


def make_client(dc: TelegramDC, session: str = '', **kw) -> TelegramClient:
    string_session = StringSession(session or None)
    string_session.set_dc(dc.dc_id, dc.host, dc.port)
    kw.setdefault('receive_updates', False)
    return TelegramClient(string_session, 1, 'test', **kw)


@pytest.mark.parametrize('transport', TRANSPORTS, ids=lambda t: t.__name__)
async def test_connects_gets_config_and_pings(proto_dc: TelegramDC, transport) -> None:
    client = make_client(proto_dc, connection=transport)
    await client.connect()
    try:
        cfg = await client(functions.help.GetConfigRequest())
        assert cfg.this_dc == 2
        assert (cfg.dc_options[0].ip_address, cfg.dc_options[0].port) == (proto_dc.host, proto_dc.port)
        pong = await client(functions.PingRequest(ping_id=424242))
        assert pong.ping_id == 424242
        assert client.session.auth_key is not None
        assert client.session.auth_key.key_id in {c.auth_key_id for c in proto_dc.world.attached}
        assert any(c.layer for c in proto_dc.world.attached)
    finally:
        await client.disconnect()


@pytest.mark.parametrize('transport', TRANSPORTS, ids=lambda t: t.__name__)
async def test_reconnects_with_saved_session_without_new_key(proto_dc: TelegramDC, transport) -> None:
    client = make_client(proto_dc, connection=transport)
    await client.connect()
    saved = client.session.save()
    key_id = client.session.auth_key.key_id
    await client.disconnect()
    keys_before = len(proto_dc.keys)

    again = make_client(proto_dc, saved, connection=transport)
    await again.connect()
    try:
        assert again.session.auth_key.key_id == key_id
        assert (await again(functions.help.GetConfigRequest())).this_dc == 2
        assert len(proto_dc.keys) == keys_before
    finally:
        await again.disconnect()


async def test_world_errors_become_rpc_errors(proto_dc: TelegramDC) -> None:
    client = make_client(proto_dc)
    await client.connect()
    try:
        assert await client.get_me() is None  # Telethon maps 401 AUTH_KEY_UNREGISTERED on get_me to None
        with pytest.raises(AuthKeyUnregisteredError) as info:
            await client(functions.users.GetFullUserRequest(types.InputUserSelf()))
        assert info.value.code == 401
    finally:
        await client.disconnect()


async def test_vectors_of_ints_and_service_requests(proto_dc: TelegramDC) -> None:
    # Telethon reads a Vector<int> answer only for an unwrapped request, i.e. with updates enabled.
    client = make_client(proto_dc, receive_updates=True)
    await client.connect()
    try:
        assert await client(functions.contacts.GetContactIDsRequest(hash=0)) == list(range(5, 2005))
        salts = await client(functions.GetFutureSaltsRequest(num=3))
        assert len(salts.salts) == 3
        pong = await client(functions.PingDelayDisconnectRequest(ping_id=7, disconnect_delay=60))
        assert pong.ping_id == 7
        destroyed = await client(functions.DestroySessionRequest(session_id=12345))
        assert isinstance(destroyed, types.DestroySessionNone)
    finally:
        await client.disconnect()


async def test_requests_in_parallel_share_one_connection(proto_dc: TelegramDC) -> None:
    client = make_client(proto_dc)
    await client.connect()
    try:
        answers = await asyncio.gather(*(client(functions.PingRequest(ping_id=i)) for i in range(50)))
        assert sorted(a.ping_id for a in answers) == list(range(50))
        configs = await asyncio.gather(*(client(functions.help.GetConfigRequest()) for _ in range(20)))
        assert all(c.this_dc == 2 for c in configs)
    finally:
        await client.disconnect()


async def test_unknown_auth_key_is_refused(proto_dc: TelegramDC) -> None:
    client = make_client(proto_dc)
    await client.connect()
    saved = client.session.save()
    await client.disconnect()
    proto_dc.call(proto_dc.keys.forget, client.session.auth_key.key_id)

    # The server answers transport error -404 for a key it does not know; Telethon gives up on it.
    again = make_client(proto_dc, saved)
    try:
        with pytest.raises(AuthKeyNotFound):
            await asyncio.wait_for(again.connect(), 15)
    finally:
        await again.disconnect()


@pytest.mark.parametrize('skew', [-1200, 600])
async def test_client_with_a_wrong_clock_is_corrected(proto_dc: TelegramDC, skew: int) -> None:
    client = make_client(proto_dc)
    await client.connect()
    try:
        # A computer clock that is 20 minutes slow (or 10 minutes fast) makes message ids Telegram rejects with
        # bad_msg_notification 16/17; Telethon then takes the server's time and sends again.
        client._sender._state.time_offset = skew
        client._sender._state._last_msg_id = 0
        assert (await asyncio.wait_for(client(functions.help.GetConfigRequest()), 10)).this_dc == 2
        assert abs(client._sender._state.time_offset) <= 2
    finally:
        await client.disconnect()


class UnknownMethodRequest(TLRequest):
    CONSTRUCTOR_ID = 0x1BADF00D
    SUBCLASS_OF_ID = 0x1BADF00D

    def _bytes(self) -> bytes:
        return struct.pack('<I', self.CONSTRUCTOR_ID) + b'\0' * 8


async def test_unknown_constructor_is_an_rpc_error_not_a_crash(proto_dc: TelegramDC) -> None:
    client = make_client(proto_dc)
    await client.connect()
    try:
        with pytest.raises(BadRequestError) as info:
            await client(UnknownMethodRequest())
        assert isinstance(info.value, InputConstructorInvalidError)  # nested inside invokeWithoutUpdates
        # The same connection keeps working.
        assert (await client(functions.help.GetConfigRequest())).this_dc == 2
    finally:
        await client.disconnect()


def test_rsa_pad_inner_data_is_accepted() -> None:
    """Current Telegram clients encrypt p_q_inner_data with RSA_PAD rather than Telethon's older scheme."""
    key = ServerKey.generate()
    inner = bytes(
        types.PQInnerDataDc(pq=b'\x01' * 8, p=b'\x02' * 4, q=b'\x03' * 4, nonce=1, server_nonce=2, new_nonce=3, dc=2)
    )
    data_with_padding = inner + os.urandom(192 - len(inner))
    while True:
        temp_key = os.urandom(32)
        data_with_hash = data_with_padding[::-1] + hashlib.sha256(temp_key + data_with_padding).digest()
        aes_encrypted = AES.encrypt_ige(data_with_hash, temp_key, b'\0' * 32)
        temp_key_xor = bytes(a ^ b for a, b in zip(temp_key, hashlib.sha256(aes_encrypted).digest(), strict=True))
        value = int.from_bytes(temp_key_xor + aes_encrypted, 'big')
        if value < key.n:
            break
    cipher = pow(value, key.e, key.n).to_bytes(256, 'big')
    decoded = decrypt_inner_data(key, cipher)
    assert isinstance(decoded, types.PQInnerDataDc)
    assert (decoded.nonce, decoded.server_nonce, decoded.new_nonce, decoded.dc) == (1, 2, 3, 2)


async def test_server_batches_answers_into_containers(proto_dc: TelegramDC) -> None:
    before = proto_dc.containers_sent
    client = make_client(proto_dc)
    await client.connect()  # new_session_created and the first answer leave together
    try:
        answers = await asyncio.gather(*(client(functions.PingRequest(ping_id=i)) for i in range(10)))
        assert [a.ping_id for a in answers] == list(range(10))
        assert proto_dc.containers_sent > before
    finally:
        await client.disconnect()


async def test_salt_is_learnt_and_ping_delay_disconnect_drops_an_idle_connection(proto_dc: TelegramDC) -> None:
    client = make_client(proto_dc)
    await client.connect()
    try:
        record = proto_dc.keys.get(client.session.auth_key.key_id)
        assert client._sender._state.salt == record.salt  # learnt from bad_server_salt / new_session_created

        session_id = client._sender._state.id
        connection = next(c for c in list(proto_dc.connections) if session_id in c.clients)
        await client(functions.PingDelayDisconnectRequest(ping_id=1, disconnect_delay=1))
        await eventually(lambda: connection.closed, timeout=10)
        assert (await asyncio.wait_for(client(functions.PingRequest(ping_id=2)), 15)).ping_id == 2
    finally:
        await client.disconnect()


async def test_garbage_from_a_peer_drops_only_that_connection(proto_dc: TelegramDC) -> None:
    client = make_client(proto_dc)
    await client.connect()
    key_id = client.session.auth_key.key_id
    try:
        junk = [
            b'\xef' + bytes([7]) + struct.pack('<Q', key_id) + os.urandom(20),  # abridged, partial AES block
            b'\xee\xee\xee\xee' + struct.pack('<i', 40) + struct.pack('<Q', key_id) + os.urandom(32),  # bad msg_key
            struct.pack('<ii', 32, 0) + os.urandom(24),  # full transport, bad crc32
            b'\xef\x05' + b'\0' * 8 + os.urandom(12),  # plain message that is not TL
            b'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
        ]
        for payload in junk:
            reader, writer = await asyncio.open_connection(proto_dc.host, proto_dc.port)
            writer.write(payload)
            await writer.drain()
            await asyncio.wait_for(reader.read(), 5)  # the server hangs up (or answers -404) and closes
            writer.close()
        assert (await client(functions.PingRequest(ping_id=11))).ping_id == 11
    finally:
        await client.disconnect()


async def test_only_sessions_that_asked_for_updates_are_subscribed(proto_dc: TelegramDC) -> None:
    quiet = make_client(proto_dc)  # receive_updates=False wraps every call in invokeWithoutUpdates
    loud = make_client(proto_dc, receive_updates=True)
    await quiet.connect()
    await loud.connect()
    try:
        await quiet(functions.PingRequest(ping_id=1))
        await loud(functions.help.GetConfigRequest())
        by_session = {c.session_id: c for c in proto_dc.world.attached}
        assert by_session[quiet._sender._state.id].subscribed is False
        assert by_session[loud._sender._state.id].subscribed is True
    finally:
        await quiet.disconnect()
        await loud.disconnect()


async def test_destroy_auth_key_forgets_the_key(proto_dc: TelegramDC) -> None:
    client = make_client(proto_dc)
    await client.connect()
    key_id = client.session.auth_key.key_id
    try:
        assert isinstance(await client(functions.DestroyAuthKeyRequest()), types.DestroyAuthKeyOk)
        assert proto_dc.call(proto_dc.keys.get, key_id) is None
    finally:
        await client.disconnect()
