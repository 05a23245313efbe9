"""JSON API for logging Telegram accounts in (code, 2FA, QR) and listing / logging them out."""
from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.deps import ReadyRootDep, TokenHolderDep
from app.api.errors import ApiError
from app.api.params import IdPath
from app.i18n import lazy
from app.mtproto.accounts import AccountInfo
from app.mtproto.login import LoginStep

router = APIRouter(prefix='/mtproto', tags=['accounts'])


class StartBody(BaseModel):
    phone: str = Field(min_length=1, max_length=32, examples=['+44 7700 900123'])


class VerifyBody(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)
    code: str = Field(min_length=1, max_length=16)


class PasswordBody(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class AccountBody(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)


class QrStartBody(BaseModel):
    pass


class LogoutAnswer(BaseModel):
    account_id: str
    status: str  # 'logged_out' (Telegram session ended, record kept as revoked) or 'removed'


@router.post('/auth/start', response_model=LoginStep, response_model_exclude_none=True)
async def auth_start(body: StartBody, root: ReadyRootDep, holder: TokenHolderDep) -> LoginStep:
    """Send a login code to the phone. Answers {account_id, status: code_sent, code_type, timeout}."""
    return await root.logins.start(body.phone, owner=holder)


@router.post('/auth/verify', response_model=LoginStep, response_model_exclude_none=True)
async def auth_verify(body: VerifyBody, root: ReadyRootDep) -> LoginStep:
    """Check the code. Answers status authorized, or password_required with the password hint."""
    return await root.logins.verify(body.account_id, body.code)


@router.post('/auth/password', response_model=LoginStep, response_model_exclude_none=True)
async def auth_password(body: PasswordBody, root: ReadyRootDep) -> LoginStep:
    """Check the two-step verification password."""
    return await root.logins.password(body.account_id, body.password)


@router.post('/auth/resend', response_model=LoginStep, response_model_exclude_none=True)
async def auth_resend(body: AccountBody, root: ReadyRootDep) -> LoginStep:
    """Send the code again (Telegram picks the next way, e.g. SMS)."""
    return await root.logins.resend(body.account_id)


@router.post('/auth/cancel', response_model=LoginStep, response_model_exclude_none=True)
async def auth_cancel(body: AccountBody, root: ReadyRootDep) -> LoginStep:
    """Abandon a pending login and close its connection."""
    return await root.logins.cancel(body.account_id)


@router.post('/auth/qr', response_model=LoginStep, response_model_exclude_none=True)
async def auth_qr(root: ReadyRootDep, holder: TokenHolderDep, body: QrStartBody | None = None) -> LoginStep:
    """Start a QR login. Answers {account_id, url: tg://login?token=..., expires_at}; show `url` as a QR code."""
    return await root.logins.start_qr(owner=holder)


@router.get('/auth/qr/{account_id}', response_model=LoginStep, response_model_exclude_none=True)
async def auth_qr_status(account_id: IdPath, root: ReadyRootDep) -> LoginStep:
    """Where a QR login stands: qr_pending (with the current url), password_required, authorized or expired."""
    return await root.logins.qr_status(account_id)


@router.get('/accounts', response_model=list[AccountInfo])
async def list_accounts(root: ReadyRootDep) -> list[AccountInfo]:
    """Every account with its state; never sessions."""
    return await root.accounts.list_accounts()


@router.delete('/accounts/{account_id}', response_model=LogoutAnswer)
async def delete_account(account_id: IdPath, root: ReadyRootDep) -> LogoutAnswer:
    """Log the account out of Telegram and drop its session; an already logged-out account is removed."""
    result = await root.accounts.log_out(account_id)
    if result is None:
        raise ApiError(404, 'ACCOUNT_NOT_FOUND', lazy('There is no account {account_id}.', account_id=account_id))
    return LogoutAnswer(account_id=account_id, status=result)
