"""The control API as HTTP JSON on its own port (stdlib only), acting on the World inside the DC's loop."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import TelegramDC

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _require(body: dict, *names: str) -> list[Any]:
    missing = [name for name in names if body.get(name) in (None, '')]
    if missing:
        raise HttpError(400, 'BAD_REQUEST', f'missing field(s): {", ".join(missing)}')
    return [body[name] for name in names]


def _pick(body: dict, *names: str) -> dict:
    return {name: body[name] for name in names if body.get(name) is not None}


class ControlServer:
    def __init__(self, dc: TelegramDC, host: str, port: int) -> None:
        self.dc = dc
        self.host = host
        self.port = port
        self._server: asyncio.base_events.Server | None = None
        self._routes: list[tuple[str, re.Pattern, Callable, int]] = [
            ('GET', re.compile(r'/health'), self.health, 200),
            ('POST', re.compile(r'/users'), self.create_user, 201),
            ('POST', re.compile(r'/channels'), self.create_channel, 201),
            ('POST', re.compile(r'/channels/(-?\d+)/messages'), self.post_message, 201),
            ('PATCH', re.compile(r'/channels/(-?\d+)/messages/(\d+)'), self.edit_message, 200),
            ('DELETE', re.compile(r'/channels/(-?\d+)/messages/(\d+)'), self.delete_message, 200),
            ('POST', re.compile(r'/channels/(-?\d+)/hidden'), self.hide_from_history, 200),
            ('POST', re.compile(r'/channels/(-?\d+)/service'), self.post_service, 201),
            ('POST', re.compile(r'/channels/(-?\d+)/files/expire'), self.expire_file_references, 200),
            ('POST', re.compile(r'/channels/(-?\d+)/discussion'), self.create_discussion, 201),
            ('POST', re.compile(r'/channels/(-?\d+)/messages/(\d+)/comments'), self.add_comment, 201),
            ('PATCH', re.compile(r'/groups/(-?\d+)/comments/(\d+)'), self.edit_comment, 200),
            ('DELETE', re.compile(r'/groups/(-?\d+)/comments/(\d+)'), self.delete_comment, 200),
            ('GET', re.compile(r'/codes/([^/]+)'), self.code, 200),
            ('POST', re.compile(r'/qr/accept'), self.accept_qr, 200),
            ('POST', re.compile(r'/sessions/revoke'), self.revoke, 200),
            ('POST', re.compile(r'/faults'), self.add_fault, 200),
            ('DELETE', re.compile(r'/faults'), self.clear_faults, 200),
            ('POST', re.compile(r'/disconnect'), self.disconnect, 200),
            ('GET', re.compile(r'/limits'), self.get_limits, 200),
            ('PUT', re.compile(r'/limits'), self.put_limits, 200),
            ('GET', re.compile(r'/stats'), self.get_stats, 200),
            ('DELETE', re.compile(r'/stats'), self.delete_stats, 200),
        ]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # ---- HTTP -------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line.strip():
                    break
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b'\r\n', b'\n', b''):
                        break
                    name, _, value = line.decode('latin-1').partition(':')
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get('content-length') or 0)
                raw = await reader.readexactly(length) if 0 < length <= MAX_BODY else b''
                status, payload = await self._handle(request_line.decode('latin-1'), raw, length)
                keep_alive = headers.get('connection', '').lower() != 'close'
                self._respond(writer, status, payload, keep_alive)
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    def _respond(writer: asyncio.StreamWriter, status: int, payload: Any, keep_alive: bool) -> None:
        body = json.dumps(payload).encode()
        reason = HTTPStatus(status).phrase
        head = (
            f'HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n'
            f'Connection: {"keep-alive" if keep_alive else "close"}\r\n\r\n'
        )
        writer.write(head.encode() + body)

    async def _handle(self, request_line: str, raw: bytes, length: int) -> tuple[int, Any]:
        try:
            parts = request_line.split()
            if len(parts) < 2:
                raise HttpError(400, 'BAD_REQUEST', 'malformed request line')
            method, path = parts[0].upper(), parts[1].split('?', 1)[0].rstrip('/') or '/'
            if length > MAX_BODY:
                raise HttpError(413, 'TOO_LARGE', 'request body too large')
            body: Any = {}
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise HttpError(400, 'BAD_REQUEST', 'body is not valid JSON') from None
            if not isinstance(body, dict):
                raise HttpError(400, 'BAD_REQUEST', 'body must be a JSON object')
            allowed = []
            for route_method, pattern, handler, status in self._routes:
                match = pattern.fullmatch(path)
                if match:
                    if route_method != method:
                        allowed.append(route_method)
                        continue
                    result = handler(body, *match.groups())
                    if inspect.isawaitable(result):
                        result = await result
                    return status, result
            if allowed:
                raise HttpError(405, 'METHOD_NOT_ALLOWED', f'{method} not allowed; use {", ".join(allowed)}')
            raise HttpError(404, 'NOT_FOUND', f'no route {path}')
        except HttpError as exc:
            return exc.status, {'error': {'code': exc.code, 'message': exc.message}}
        except KeyError as exc:
            return 404, {'error': {'code': 'NOT_FOUND', 'message': f'unknown {exc.args[0] if exc.args else "id"}'}}
        except (ValueError, TypeError) as exc:
            status = 409 if 'taken' in str(exc) or 'exists' in str(exc) else 400
            return status, {'error': {'code': 'CONFLICT' if status == 409 else 'BAD_REQUEST', 'message': str(exc)}}
        except Exception as exc:  # noqa: BLE001 - World errors (RpcError) and anything else become JSON
            message = getattr(exc, 'message', None)
            if isinstance(message, str) and isinstance(getattr(exc, 'code', None), int):
                return 400, {'error': {'code': message, 'message': message}}
            log.exception('control request failed')
            return 500, {'error': {'code': 'INTERNAL', 'message': str(exc)}}

    # ---- routes -----------------------------------------------------------------------------------

    @property
    def world(self) -> Any:
        return self.dc.world

    def health(self, body: dict) -> dict:
        return {
            'status': 'ok',
            'dc_id': self.dc.dc_id,
            'host': self.dc.host,
            'port': self.dc.port,
            'connections': len(self.dc.connections),
            'sessions': len(self.dc.clients),
        }

    def create_user(self, body: dict) -> dict:
        phone, first_name = _require(body, 'phone', 'first_name')
        user_id = self.world.create_user(
            str(phone), str(first_name), **_pick(body, 'username', 'password', 'last_name')
        )
        return {'user_id': user_id}

    def create_channel(self, body: dict) -> dict:
        (title,) = _require(body, 'title')
        fields = _pick(body, 'username', 'private', 'posts', 'seed', 'about', 'megagroup')
        if 'posts' in fields and (not isinstance(fields['posts'], int) or fields['posts'] < 0):
            raise HttpError(400, 'BAD_REQUEST', 'posts must be a non-negative integer')
        return dict(self.world.create_channel(str(title), **fields))

    def post_message(self, body: dict, channel_id: str) -> dict:
        text = body.get('text', '')
        if not isinstance(text, str):
            raise HttpError(400, 'BAD_REQUEST', 'text must be a string')
        extra = {k: v for k, v in body.items() if k != 'text'}
        message_id = self.world.post_message(int(channel_id), text, **extra)
        return {'message_id': message_id}

    def edit_message(self, body: dict, channel_id: str, message_id: str) -> dict:
        (text,) = _require(body, 'text')
        self.world.edit_message(int(channel_id), int(message_id), str(text))
        return {'ok': True}

    def delete_message(self, body: dict, channel_id: str, message_id: str) -> dict:
        deleted = self.world.delete_messages(int(channel_id), [int(message_id)])
        return {'ok': True, 'deleted': list(deleted) if deleted is not None else [int(message_id)]}

    def hide_from_history(self, body: dict, channel_id: str) -> dict:
        (ids,) = _require(body, 'message_ids')
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise HttpError(400, 'BAD_REQUEST', 'message_ids must be a list of integers')
        return {'hidden': self.world.hide_from_history(int(channel_id), ids)}

    def expire_file_references(self, body: dict, channel_id: str) -> dict:
        ids = body.get('message_ids')
        if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
            raise HttpError(400, 'BAD_REQUEST', 'message_ids must be a list of integers (or left out for all)')
        return {'expired': self.world.expire_file_references(int(channel_id), ids)}

    def create_discussion(self, body: dict, channel_id: str) -> dict:
        members = body.get('members') or []
        if not isinstance(members, list) or not all(isinstance(m, int) for m in members):
            raise HttpError(400, 'BAD_REQUEST', 'members must be a list of user ids')
        return {'group_id': self.world.create_discussion(int(channel_id), body.get('title'), members=members)}

    def add_comment(self, body: dict, channel_id: str, post_id: str) -> dict:
        (text,) = _require(body, 'text')
        fields = _pick(body, 'author', 'reply_to', 'reactions')
        return {'comment_id': self.world.add_comment(int(channel_id), int(post_id), str(text), **fields)}

    def edit_comment(self, body: dict, group_id: str, comment_id: str) -> dict:
        (text,) = _require(body, 'text')
        self.world.edit_comment(int(group_id), int(comment_id), str(text))
        return {'ok': True}

    def delete_comment(self, body: dict, group_id: str, comment_id: str) -> dict:
        return {'deleted': self.world.delete_comments(int(group_id), [int(comment_id)])}

    def post_service(self, body: dict, channel_id: str) -> dict:
        (title,) = _require(body, 'title')
        return {'message_id': self.world.post_service(int(channel_id), str(title))}

    def code(self, body: dict, phone: str) -> dict:
        code = self.world.login_code(phone)
        if code is None:
            raise HttpError(404, 'NOT_FOUND', 'no login code was sent to this number')
        return {'code': code}

    def accept_qr(self, body: dict) -> dict:
        (user_id,) = _require(body, 'user_id')
        self.world.accept_qr(int(user_id))
        return {'ok': True}

    def revoke(self, body: dict) -> dict:
        (user_id,) = _require(body, 'user_id')
        self.world.revoke_sessions(int(user_id))
        return {'ok': True}

    def add_fault(self, body: dict) -> dict:
        method, error = _require(body, 'method', 'error')
        seconds = body.get('seconds')
        count = body.get('count', 1)
        if seconds is not None and not isinstance(seconds, (int, float)):
            raise HttpError(400, 'BAD_REQUEST', 'seconds must be a number')
        if not isinstance(count, int):
            raise HttpError(400, 'BAD_REQUEST', 'count must be an integer')
        self.dc.add_fault(str(method), str(error), seconds=seconds, count=count)
        return {'ok': True, 'pending': len(self.dc.faults.pending())}

    def clear_faults(self, body: dict) -> dict:
        self.dc.clear_faults()
        return {'ok': True}

    def disconnect(self, body: dict) -> dict:
        return {'disconnected': self.dc.disconnect_all()}

    def get_limits(self, body: dict) -> dict:
        return {'methods': self.dc.limits.describe()}

    def put_limits(self, body: dict) -> dict:
        profile = body.get('profile', 'realistic')
        methods = body.get('methods') or {}
        if not isinstance(profile, str) or not isinstance(methods, dict):
            raise HttpError(400, 'BAD_REQUEST', 'profile is "realistic" or "off"; methods maps a method to its limit')
        return {'methods': self.dc.set_limits(profile, methods)}

    def get_stats(self, body: dict) -> dict:
        return self.dc.stats()

    def delete_stats(self, body: dict) -> dict:
        self.dc.reset_stats()
        return {'ok': True}
