"""Telegram's login methods: phone code, 2FA over SRP, QR tokens, log out and revoked sessions."""

import os
from datetime import UTC, datetime, timedelta

from telethon.tl import types

from . import srp
from .errors import RpcError
from .phones import code_for_test_phone, normalize_phone
from .state import CodeRec, QrToken, UserRec


def _bad(name: str) -> RpcError:
    return RpcError(400, name)


class LoginHandlers:
    def _init_login(self) -> None:
        self.codes: dict[str, CodeRec] = {}  # phone_code_hash -> code
        self.pending_2fa: dict[int, int] = {}  # auth_key_id -> user_id waiting for the password
        self.qr_tokens: list[QrToken] = []

    # ---- control --------------------------------------------------------------------------------

    def login_code(self, phone: str) -> str | None:
        """The newest usable login code sent to the phone (what the user would read in the app)."""
        normalized = normalize_phone(phone)
        now = self.clock()
        for rec in reversed(list(self.codes.values())):
            if rec.phone == normalized and not rec.cancelled and not rec.used and rec.expires > now:
                return rec.code
        return None

    def expire_codes(self, phone: str) -> None:
        normalized = normalize_phone(phone)
        for rec in self.codes.values():
            if rec.phone == normalized:
                rec.expires = 0.0

    def accept_qr(self, user_id: int) -> bool:
        """Accepts the newest pending QR token as `user_id` (as if scanned in a logged-in app)."""
        if user_id not in self.users:
            raise KeyError(f'no user {user_id}')
        now = self.clock()
        for token in reversed(self.qr_tokens):
            if token.accepted_by is None and token.expires > now:
                self._accept_token(token, user_id)
                return True
        return False

    def revoke_sessions(self, user_id: int) -> int:
        """Logs out every auth key of the user; their next call that needs a login gets AUTH_KEY_UNREGISTERED."""
        keys = [key for key, uid in self.auth.items() if uid == user_id]
        for key in [key for key, uid in self.pending_2fa.items() if uid == user_id]:
            del self.pending_2fa[key]
        for key in keys:
            del self.auth[key]
            self.delivered.pop(key, None)
        for client in list(self.clients):
            if client.auth_key_id in keys:
                # Makes a live client ask for its difference now and learn it was logged out.
                self._safe_push(client, types.UpdatesTooLong())
        return len(keys)

    def _accept_token(self, token: QrToken, user_id: int) -> None:
        token.accepted_by = user_id
        update = types.UpdateShort(update=types.UpdateLoginToken(), date=self.now())
        targets = [c for c in self.clients if c.auth_key_id == token.auth_key_id] or [token.client]
        for client in targets:
            self._safe_push(client, update)

    # ---- helpers -----------------------------------------------------------------------------------

    def _phone(self, phone: str) -> str:
        normalized = normalize_phone(phone)
        if normalized is None:
            raise _bad('PHONE_NUMBER_INVALID')
        return normalized

    def _code_for(self, phone: str, phone_code_hash: str) -> CodeRec:
        if not phone_code_hash:
            raise _bad('PHONE_CODE_HASH_EMPTY')
        rec = self.codes.get(phone_code_hash)
        # An unknown hash, or one sent to another number, is as dead as an expired one.
        if rec is None or rec.phone != phone or rec.cancelled or rec.used or rec.expires <= self.clock():
            raise _bad('PHONE_CODE_EXPIRED')
        return rec

    def _sent_code(self, rec: CodeRec, sms: bool) -> types.auth.SentCode:
        code_type = types.auth.SentCodeTypeSms(length=5) if sms else types.auth.SentCodeTypeApp(length=5)
        return types.auth.SentCode(type=code_type, phone_code_hash=rec.phone_code_hash,
                                   next_type=types.auth.CodeTypeSms(), timeout=60)

    def _authorization(self, client, user: UserRec):
        """Finishes a login: with 2FA the key waits for the password, otherwise it is bound to the user."""
        if user.password is not None:
            self.pending_2fa[client.auth_key_id] = user.id
            raise RpcError(401, 'SESSION_PASSWORD_NEEDED')
        return self._bind_authorization(client, user)

    def _bind_authorization(self, client, user: UserRec):
        self.pending_2fa.pop(client.auth_key_id, None)
        self.bind(client, user)
        return types.auth.Authorization(user=self.user_tl(user, user.id))

    # ---- phone code ----------------------------------------------------------------------------------

    def rpc_auth_SendCodeRequest(self, client, req):
        phone = self._phone(req.phone_number)
        code = code_for_test_phone(phone) or f'{self.rng.randint(0, 99999):05d}'
        now = self.clock()
        rec = CodeRec(phone=phone, code=code, phone_code_hash=os.urandom(9).hex(), created=now,
                      expires=now + self.code_ttl)
        self.codes[rec.phone_code_hash] = rec
        return self._sent_code(rec, sms=False)

    def rpc_auth_ResendCodeRequest(self, client, req):
        rec = self._code_for(self._phone(req.phone_number), req.phone_code_hash)
        rec.expires = self.clock() + self.code_ttl
        return self._sent_code(rec, sms=True)

    def rpc_auth_CancelCodeRequest(self, client, req):
        rec = self._code_for(self._phone(req.phone_number), req.phone_code_hash)
        rec.cancelled = True
        return True

    def rpc_auth_SignInRequest(self, client, req):
        phone = self._phone(req.phone_number)
        if not req.phone_code:
            raise _bad('PHONE_CODE_EMPTY')
        rec = self._code_for(phone, req.phone_code_hash)
        if req.phone_code != rec.code:
            raise _bad('PHONE_CODE_INVALID')
        user = self.user_by_phone(phone)
        if user is None:
            # Current Telegram answers an unknown number with a sign-up request, not PHONE_NUMBER_UNOCCUPIED;
            # the code stays valid for auth.signUp.
            return types.auth.AuthorizationSignUpRequired()
        rec.used = True
        return self._authorization(client, user)

    def rpc_auth_SignUpRequest(self, client, req):
        phone = self._phone(req.phone_number)
        rec = self._code_for(phone, req.phone_code_hash)
        if self.user_by_phone(phone) is not None:
            raise _bad('PHONE_NUMBER_OCCUPIED')
        first_name = (req.first_name or '').strip()
        if not first_name or len(first_name) > 64:
            raise _bad('FIRSTNAME_INVALID')
        user_id = self.create_user(phone, first_name, last_name=(req.last_name or '').strip())
        rec.used = True
        return self._bind_authorization(client, self.users[user_id])

    # ---- 2FA ---------------------------------------------------------------------------------------

    def _password_algo(self, user: UserRec | None):
        salt1 = user.password.salt1 if user and user.password else self.rng.randbytes(8)
        salt2 = user.password.salt2 if user and user.password else self.rng.randbytes(16)
        return types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            salt1=salt1, salt2=salt2, g=srp.G, p=srp.P_BYTES)

    def rpc_account_GetPasswordRequest(self, client, req):
        user_id = self.pending_2fa.get(client.auth_key_id) or self.auth.get(client.auth_key_id)
        user = self.users.get(user_id) if user_id is not None else None
        common = {
            'new_algo': types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
                salt1=self.rng.randbytes(8), salt2=self.rng.randbytes(16), g=srp.G, p=srp.P_BYTES),
            'new_secure_algo': types.SecurePasswordKdfAlgoSHA512(salt=self.rng.randbytes(8)),
            'secure_random': self.rng.randbytes(32),
        }
        if user is None or user.password is None:
            return types.account.Password(has_password=False, **common)
        user.challenge = srp.make_challenge(user.password, self.rng)
        return types.account.Password(
            has_password=True, current_algo=self._password_algo(user), srp_B=user.challenge.B.to_bytes(256, 'big'),
 srp_id=user.challenge.srp_id, hint=user.password.hint or None,
            **common)

    def rpc_auth_CheckPasswordRequest(self, client, req):
        user_id = self.pending_2fa.get(client.auth_key_id)
        user = self.users.get(user_id) if user_id is not None else None
        if user is None or user.password is None:
            raise RpcError(400, 'PASSWORD_HASH_INVALID')
        check = req.password
        if not isinstance(check, types.InputCheckPasswordSRP):
            raise RpcError(400, 'PASSWORD_HASH_INVALID')
        if user.challenge is None or check.srp_id != user.challenge.srp_id:
            raise RpcError(400, 'SRP_ID_INVALID')
        ok = srp.check(user.password, user.challenge, check.A, check.M1)
        if not ok:
            raise RpcError(400, 'PASSWORD_HASH_INVALID')
        user.challenge = None
        return self._bind_authorization(client, user)

    # ---- QR login ------------------------------------------------------------------------------------

    def rpc_auth_ExportLoginTokenRequest(self, client, req):
        key = client.auth_key_id
        bound = self.user_of(client)
        if bound is not None:
            return types.auth.LoginTokenSuccess(authorization=types.auth.Authorization(
                user=self.user_tl(bound, bound.id)))
        for token in self.qr_tokens:
            if token.auth_key_id == key and token.accepted_by is not None:
                self.qr_tokens.remove(token)
                user = self.users[token.accepted_by]
                return types.auth.LoginTokenSuccess(authorization=self._authorization(client, user))
        now = self.clock()
        self.qr_tokens = [t for t in self.qr_tokens if t.expires > now and t.auth_key_id != key]
        token = QrToken(token=os.urandom(32), auth_key_id=key, client=client, expires=now + self.qr_ttl)
        self.qr_tokens.append(token)
        return types.auth.LoginToken(expires=datetime.fromtimestamp(int(token.expires), UTC), token=token.token)

    def rpc_auth_ImportLoginTokenRequest(self, client, req):
        token = self._find_token(req.token)
        if token.accepted_by is None:
            return types.auth.LoginToken(expires=datetime.fromtimestamp(int(token.expires), UTC), token=token.token)
        self.qr_tokens.remove(token)
        user = self.users[token.accepted_by]
        return types.auth.LoginTokenSuccess(authorization=self._authorization(client, user))

    def rpc_auth_AcceptLoginTokenRequest(self, client, req):
        user = self.require_user(client)
        token = self._find_token(req.token)
        if token.accepted_by is not None:
            raise _bad('AUTH_TOKEN_ALREADY_ACCEPTED')
        self._accept_token(token, user.id)
        now = self.now()
        return types.Authorization(
            hash=token.auth_key_id & 0x7FFFFFFFFFFFFFFF, device_model='Test', platform='test', system_version='1',
            api_id=1, app_name='test', app_version='1', date_created=now, date_active=now, ip='127.0.0.1',
            country='', region='')

    def _find_token(self, raw: bytes) -> QrToken:
        token = next((t for t in self.qr_tokens if t.token == raw), None)
        if token is None:
            raise _bad('AUTH_TOKEN_INVALID')
        if token.expires <= self.clock():
            raise _bad('AUTH_TOKEN_EXPIRED')
        return token

    # ---- logging out ---------------------------------------------------------------------------------

    def rpc_auth_LogOutRequest(self, client, req):
        self.require_user(client)
        self.auth.pop(client.auth_key_id, None)
        self.delivered.pop(client.auth_key_id, None)
        return types.auth.LoggedOut()

    # ---- config --------------------------------------------------------------------------------------

    def rpc_help_GetConfigRequest(self, client, req):
        now = self.now()
        return types.Config(
            date=now, expires=now + timedelta(hours=1), test_mode=False, this_dc=self.dc_id,
            dc_options=[types.DcOption(id=self.dc_id, ip_address=self.host, port=self.port)],
            dc_txt_domain_name='', chat_size_max=200, megagroup_size_max=200000, forwarded_count_max=100,
            online_update_period_ms=210000, offline_blur_timeout_ms=5000, offline_idle_timeout_ms=30000,
            online_cloud_timeout_ms=300000, notify_cloud_delay_ms=30000, notify_default_delay_ms=1500,
            push_chat_period_ms=60000, push_chat_limit=2, edit_time_limit=172800, revoke_time_limit=2147483647,
            revoke_pm_time_limit=2147483647, rating_e_decay=2419200, stickers_recent_limit=200,
            channels_read_media_period=604800, call_receive_timeout_ms=20000, call_ring_timeout_ms=90000,
            call_connect_timeout_ms=30000, call_packet_timeout_ms=10000, me_url_prefix='https://t.me/',
            caption_length_max=1024, message_length_max=4096, webfile_dc_id=self.dc_id)

    def rpc_help_GetNearestDcRequest(self, client, req):
        return types.NearestDc(country='ZZ', this_dc=self.dc_id, nearest_dc=self.dc_id)
