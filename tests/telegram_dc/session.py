"""Encrypted MTProto 2.0 sessions: one `Connection` per TCP connection, one `DcClient` per session on it."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import inspect
import logging
import os
import struct
import threading
import time
from typing import TYPE_CHECKING, Any

from telethon.errors import TypeNotFoundError
from telethon.extensions import BinaryReader
from telethon.network.mtprotostate import MTProtoState
from telethon.tl import functions, types
from telethon.tl.alltlobjects import tlobjects
from telethon.tl.tlobject import TLObject, TLRequest

from .faults import ConnectionDropped
from .handshake import Handshake, HandshakeError
from .keys import AuthKeyRecord, decrypt_ige, encrypt_ige, tl_bytes
from .transport import Transport, TransportError

if TYPE_CHECKING:
    from .server import TelegramDC

log = logging.getLogger(__name__)

MSG_CONTAINER = 0x73F1F8DC
GZIP_PACKED = 0x3072CFA1
RPC_RESULT = 0xF35C6D01
VECTOR = 0x1CB5C415
CONTAINER_MAX = 256 * 1024
MSG_TOO_OLD = 300
MSG_TOO_NEW = 30
BOOL_TRUE = b'\xb5\x75\x72\x99'
BOOL_FALSE = b'\x37\x97\x79\xbc'
_WRAPPERS = (
    functions.InvokeWithLayerRequest,
    functions.InitConnectionRequest,
    functions.InvokeWithoutUpdatesRequest,
    functions.InvokeAfterMsgRequest,
    functions.InvokeAfterMsgsRequest,
    functions.InvokeWithTakeoutRequest,
    functions.InvokeWithMessagesRangeRequest,
)
_LONG_VECTOR_CACHE: dict[type, bool] = {}
_calc_key = MTProtoState._calc_key


def rpc_error_body(code: int, message: str) -> bytes:
    return bytes(types.RpcError(error_code=code, error_message=message))


def _is_long_vector(request: TLObject) -> bool:
    cls = type(request)
    if cls not in _LONG_VECTOR_CACHE:
        try:
            source = inspect.getsource(cls.read_result)
        except (OSError, TypeError):
            source = ''
        _LONG_VECTOR_CACHE[cls] = 'read_long' in source
    return _LONG_VECTOR_CACHE[cls]


def serialize_result(request: TLObject, result: Any) -> bytes:
    """The TL bytes of a method's answer (TLObject, bool, vector, or bytes already serialised)."""
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result)
    if isinstance(result, bool):
        return BOOL_TRUE if result else BOOL_FALSE
    if isinstance(result, TLObject):
        return bytes(result)
    if isinstance(result, (list, tuple)):
        parts = [struct.pack('<Ii', VECTOR, len(result))]
        long_ints = None
        for item in result:
            if isinstance(item, TLObject):
                parts.append(bytes(item))
            elif isinstance(item, int):
                if long_ints is None:
                    long_ints = _is_long_vector(request)
                parts.append(struct.pack('<q' if long_ints else '<i', item))
            elif isinstance(item, (bytes, bytearray)):
                parts.append(bytes(item))
            else:
                raise TypeError(f'cannot serialise vector item {item!r}')
        return b''.join(parts)
    raise TypeError(f'cannot serialise result {type(result).__name__}')


def _error_of(exc: BaseException) -> tuple[int, str] | None:
    """(code, message) of an RpcError-like exception raised by the World."""
    code = getattr(exc, 'code', None)
    if code is None:
        code = getattr(exc, 'error_code', None)
    message = getattr(exc, 'message', None)
    if message is None:
        message = getattr(exc, 'error_message', None)
    if isinstance(code, int) and isinstance(message, str):
        return code, message
    return None


def _bad_msg_id_code(msg_id: int) -> int:
    """The bad_msg_notification code for a client msg_id (16 too old, 17 too new, 18 not divisible by 4), or 0."""
    if msg_id % 4:
        return 18
    drift = (msg_id >> 32) - time.time()
    if drift < -MSG_TOO_OLD:
        return 16
    if drift > MSG_TOO_NEW:
        return 17
    return 0


class DcClient:
    """One MTProto session on one live connection; the World pushes updates to it."""

    def __init__(self, connection: Connection, record: AuthKeyRecord, session_id: int) -> None:
        self.connection = connection
        self.record = record
        self.auth_key_id = record.key_id
        self.session_id = session_id
        self.layer: int | None = None
        self.init: TLObject | None = None
        # Telegram subscribes a session to updates once it makes a call not wrapped in invokeWithoutUpdates.
        self.subscribed = False
        self._seq = 0
        self._outbox: list[tuple[int, int, bytes]] = []
        self._outbox_size = 0
        self._flush_scheduled = False

    @property
    def connected(self) -> bool:
        return not self.connection.closed

    def push(self, updates: TLObject) -> None:
        """Send an unsolicited Updates object on this session (thread-safe).

        Dropped, as Telegram does, while the session has made only invokeWithoutUpdates calls."""
        loop = self.connection.loop
        if threading.get_ident() != self.connection.thread_id:
            loop.call_soon_threadsafe(self.push, updates)
            return
        if self.connection.closed or not self.subscribed:
            return
        self.send(bytes(updates), content_related=True, response=False)

    def send(self, body: bytes, *, content_related: bool, response: bool = True, alone: bool = False) -> int:
        """Queue one message; messages queued in the same loop iteration leave together in a msg_container.

        `alone` sends at once, outside any container (bad_msg_notification and bad_server_salt must be
        readable by a client whose clock is wrong, which judges a container by its own msg_id)."""
        if content_related:
            seq_no = self._seq * 2 + 1
            self._seq += 1
        else:
            seq_no = self._seq * 2
        msg_id = self.connection.new_msg_id(response)
        if alone:
            self.flush()
            self.connection.send_encrypted(self, msg_id, seq_no, body)
            return msg_id
        self._outbox.append((msg_id, seq_no, body))
        self._outbox_size += len(body)
        if self._outbox_size >= CONTAINER_MAX:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.connection.loop.call_soon(self.flush)
        return msg_id

    def flush(self) -> None:
        self._flush_scheduled = False
        outbox, self._outbox, self._outbox_size = self._outbox, [], 0
        if not outbox:
            return
        if len(outbox) == 1:
            self.connection.send_encrypted(self, *outbox[0])
            return
        parts = [struct.pack('<Ii', MSG_CONTAINER, len(outbox))]
        for msg_id, seq_no, body in outbox:
            parts.append(struct.pack('<qii', msg_id, seq_no, len(body)))
            parts.append(body)
        self.connection.server.containers_sent += 1
        self.connection.send_encrypted(self, self.connection.new_msg_id(False), self._seq * 2, b''.join(parts))

    def __repr__(self) -> str:
        return f'DcClient(auth_key_id={self.auth_key_id}, session_id={self.session_id}, layer={self.layer})'


class Connection:
    """One TCP connection: transport framing, key exchange, then encrypted messages of any number of sessions."""

    def __init__(self, server: TelegramDC, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.transport = Transport(reader, writer)
        self.writer = writer
        self.handshake: Handshake | None = None
        self.clients: dict[int, DcClient] = {}
        self.tasks: set[asyncio.Task] = set()
        self.inflight: dict[int, asyncio.Future] = {}
        self.closed = False
        self.loop = asyncio.get_running_loop()
        self.thread_id = threading.get_ident()
        self._last_msg_id = 0
        self._disconnect_timer: asyncio.TimerHandle | None = None

    # ---- life cycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        transport = self.transport
        try:
            await transport.detect()
            while not self.closed:
                packet = await transport.read()
                if len(packet) < 8:
                    raise TransportError('short packet')
                if packet[:8] == b'\0' * 8:
                    self._plain(packet)
                else:
                    self._encrypted(packet)
                await transport.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TransportError, HandshakeError, OSError) as exc:
            log.debug('connection ends: %r', exc)
        except Exception:
            log.exception('connection failed')
        finally:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._disconnect_timer:
            self._disconnect_timer.cancel()
        for task in list(self.tasks):
            task.cancel()
        try:
            self.writer.transport.abort()
        except Exception:  # noqa: BLE001 - already gone
            pass
        for client in self.clients.values():
            self.server.detach_client(client)
        self.clients.clear()
        self.server.connection_closed(self)

    def new_msg_id(self, response: bool) -> int:
        now = time.time()
        msg_id = (int(now) << 32) | (int((now % 1) * 2**32) & ~3)
        if msg_id <= self._last_msg_id:
            msg_id = self._last_msg_id + 4
        self._last_msg_id = msg_id
        return msg_id | (1 if response else 3)

    # ---- plain messages (key exchange) ------------------------------------------------------------

    def _plain(self, packet: bytes) -> None:
        length = struct.unpack_from('<i', packet, 16)[0]
        request = BinaryReader(packet[20 : 20 + length]).tgread_object()
        if self.server.faults.take(request, drops_only=True) is not None:
            raise HandshakeError(f'{type(request).__name__} dropped by a fault')
        if self.handshake is None:
            self.handshake = Handshake(self.server.server_key)
        answer, key = self.handshake.handle(request)
        if key is not None:
            self.server.keys.add(key)
            self.handshake = None
        body = bytes(answer)
        msg_id = self.new_msg_id(True)
        self.transport.write(struct.pack('<qqi', 0, msg_id, len(body)) + body)

    # ---- encrypted messages -----------------------------------------------------------------------

    def _encrypted(self, packet: bytes) -> None:
        key_id = struct.unpack_from('<Q', packet)[0]
        record = self.server.keys.get(key_id)
        if record is None:
            self.transport.write_error(-404)
            return
        if len(packet) < 24 + 32 or (len(packet) - 24) % 16:
            raise TransportError('encrypted message of a bad length')
        key = record.key
        msg_key = packet[8:24]
        aes_key, aes_iv = _calc_key(key, msg_key, True)
        plain = decrypt_ige(packet[24:], aes_key, aes_iv)
        if hashlib.sha256(key[88:120] + plain).digest()[8:24] != msg_key:
            raise TransportError('msg_key mismatch')
        salt, session_id, msg_id, seq_no, length = struct.unpack_from('<qqqii', plain)
        if not 0 <= length <= len(plain) - 32:
            raise TransportError('bad message length')
        body = plain[32 : 32 + length]

        client = self.clients.get(session_id)
        if client is None:
            client = DcClient(self, record, session_id)
            self.clients[session_id] = client
        bad_msg = _bad_msg_id_code(msg_id)
        if bad_msg:
            notice = types.BadMsgNotification(bad_msg_id=msg_id, bad_msg_seqno=seq_no, error_code=bad_msg)
            client.send(bytes(notice), content_related=False, alone=True)
            return
        if salt not in record.salts:
            bad = types.BadServerSalt(
                bad_msg_id=msg_id, bad_msg_seqno=seq_no, error_code=48, new_server_salt=record.salt
            )
            client.send(bytes(bad), content_related=False, alone=True)
            return
        if session_id not in record.sessions:
            record.sessions.add(session_id)
            created = types.NewSessionCreated(
                first_msg_id=msg_id, unique_id=struct.unpack('<q', os.urandom(8))[0], server_salt=record.salt
            )
            client.send(bytes(created), content_related=False)
        if not getattr(client, '_attached', False):
            client._attached = True
            self.server.attach_client(client)
        self._message(client, msg_id, seq_no, body)

    def send_encrypted(self, client: DcClient, msg_id: int, seq_no: int, body: bytes) -> None:
        if self.closed:
            return
        key = client.record.key
        data = struct.pack('<qqqii', client.record.salt, client.session_id, msg_id, seq_no, len(body)) + body
        data += os.urandom(-(len(data) + 12) % 16 + 12)
        msg_key = hashlib.sha256(key[96:128] + data).digest()[8:24]
        aes_key, aes_iv = _calc_key(key, msg_key, False)
        self.transport.write(struct.pack('<Q', client.auth_key_id) + msg_key + encrypt_ige(data, aes_key, aes_iv))

    def _message(self, client: DcClient, msg_id: int, seq_no: int, body: bytes) -> None:
        constructor = struct.unpack_from('<I', body)[0]
        if constructor == MSG_CONTAINER:
            count = struct.unpack_from('<i', body, 4)[0]
            offset = 8
            for _ in range(count):
                inner_id, inner_seq, inner_len = struct.unpack_from('<qii', body, offset)
                offset += 16
                self._message(client, inner_id, inner_seq, body[offset : offset + inner_len])
                offset += inner_len
            return
        if constructor == GZIP_PACKED:
            reader = BinaryReader(body)
            reader.read_int()
            self._message(client, msg_id, seq_no, gzip.decompress(reader.tgread_bytes()))
            return
        try:
            obj = BinaryReader(body).tgread_object()
        except TypeNotFoundError as exc:
            top_known = constructor in tlobjects
            name = 'INPUT_CONSTRUCTOR_INVALID' if top_known else 'INPUT_METHOD_INVALID'
            log.info('unknown constructor %08x in message %d', exc.invalid_constructor_id, msg_id)
            if seq_no % 2:
                self._rpc_answer(client, msg_id, rpc_error_body(400, name))
            return
        except Exception:
            log.exception('cannot parse message %d', msg_id)
            if seq_no % 2:
                self._rpc_answer(client, msg_id, rpc_error_body(400, 'INPUT_REQUEST_INVALID'))
            return
        self._service_or_rpc(client, msg_id, obj)

    def _service_or_rpc(self, client: DcClient, msg_id: int, obj: TLObject) -> None:
        answer = self._service(client, msg_id, obj)
        if answer is not None:
            if isinstance(answer, types.RpcAnswerUnknown):
                self._rpc_answer(client, msg_id, bytes(answer))
            else:
                client.send(bytes(answer), content_related=True)
        elif isinstance(obj, TLRequest):
            done = self.loop.create_future()
            self.inflight[msg_id] = done
            task = self.loop.create_task(self._rpc(client, msg_id, obj, done))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        # Anything else (msgs_ack, msgs_state_info, http_wait, ...) needs no answer.

    def _service(self, client: DcClient, msg_id: int, obj: TLObject) -> TLObject | None:
        """The answer to an MTProto service request, or None when obj is not one."""
        if isinstance(obj, functions.PingRequest):
            return types.Pong(msg_id=msg_id, ping_id=obj.ping_id)
        if isinstance(obj, functions.PingDelayDisconnectRequest):
            if self._disconnect_timer:
                self._disconnect_timer.cancel()
            self._disconnect_timer = self.loop.call_later(obj.disconnect_delay, self.close)
            return types.Pong(msg_id=msg_id, ping_id=obj.ping_id)
        if isinstance(obj, functions.GetFutureSaltsRequest):
            return self._future_salts(client.record, msg_id, obj.num)
        if isinstance(obj, functions.DestroySessionRequest):
            known = obj.session_id in client.record.sessions
            client.record.sessions.discard(obj.session_id)
            answer = types.DestroySessionOk if known else types.DestroySessionNone
            return answer(session_id=obj.session_id)
        if isinstance(obj, functions.RpcDropAnswerRequest):
            return types.RpcAnswerUnknown()
        if isinstance(obj, functions.DestroyAuthKeyRequest):
            self.server.keys.forget(client.auth_key_id)
            return types.DestroyAuthKeyOk()
        return None

    def _future_salts(self, record: AuthKeyRecord, msg_id: int, num: int) -> TLObject:
        now = int(time.time())
        salts = [types.FutureSalt(valid_since=int(record.created), valid_until=now + 3600, salt=record.salt)]
        for index in range(1, max(1, min(num, 64))):
            salt = struct.unpack('<q', os.urandom(8))[0]
            record.salts.add(salt)
            start = now + 3600 * index
            salts.append(types.FutureSalt(valid_since=start, valid_until=start + 3600, salt=salt))
        return types.FutureSalts(req_msg_id=msg_id, now=now, salts=salts)

    def _rpc_answer(self, client: DcClient, msg_id: int, body: bytes) -> None:
        threshold = self.server.gzip_threshold
        if threshold is not None and len(body) > threshold:
            packed = gzip.compress(body, compresslevel=1)
            if len(packed) + 8 < len(body):
                body = struct.pack('<I', GZIP_PACKED) + tl_bytes(packed)
        client.send(struct.pack('<Iq', RPC_RESULT, msg_id) + body, content_related=True)

    async def _rpc(self, client: DcClient, msg_id: int, request: TLObject, done: asyncio.Future) -> None:
        try:
            without_updates = False
            while isinstance(request, _WRAPPERS):
                if isinstance(request, functions.InvokeWithLayerRequest):
                    client.layer = request.layer
                elif isinstance(request, functions.InitConnectionRequest):
                    client.init = request
                elif isinstance(request, functions.InvokeWithoutUpdatesRequest):
                    without_updates = True
                elif isinstance(request, functions.InvokeAfterMsgRequest):
                    await self._after([request.msg_id])
                elif isinstance(request, functions.InvokeAfterMsgsRequest):
                    await self._after(request.msg_ids)
                request = request.query
            if not without_updates:
                client.subscribed = True
            try:
                service = self._service(client, msg_id, request)
                if service is not None:
                    result = service
                else:
                    result = await self.server.dispatch(client, request)
                body = serialize_result(request, result)
            except asyncio.CancelledError:
                raise
            except NotImplementedError:
                body = rpc_error_body(400, 'INPUT_METHOD_INVALID')
            except ConnectionDropped:
                self.close()
                return
            except Exception as exc:  # noqa: BLE001 - every failure becomes an rpc_error, never a crash
                error = _error_of(exc)
                if error is None:
                    log.exception('request %s failed', type(request).__name__)
                    error = (500, 'INTERNAL')
                body = rpc_error_body(*error)
            self._rpc_answer(client, msg_id, body)
            await self.transport.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.inflight.pop(msg_id, None)
            if not done.done():
                done.set_result(None)

    async def _after(self, msg_ids: list[int]) -> None:
        waits = [self.inflight[m] for m in msg_ids if m in self.inflight]
        if waits:
            await asyncio.gather(*waits)
