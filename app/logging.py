"""Loguru set-up. Standard-library logging (telethon, uvicorn, nicegui, pymongo) is routed into loguru.

The rule is that secrets are never logged; `redact` is a second line of defence for values that look like
one (bearer tokens, Parsegram API tokens, password/code fields, long base64 blobs such as session strings).
"""
from __future__ import annotations

import logging
import re
import sys
from typing import Any

from loguru import logger

FORMAT = '<green>{time:YYYY-MM-DD HH:mm:ss}</green> | <level>{level: <7}</level> | <cyan>{name}</cyan> - {message}'

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r'(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+'), r'\1[redacted]'),
    (re.compile(r'\bpgt_[A-Za-z0-9_-]{8,}'), '[redacted-token]'),
    # key=value and "key": "value" forms
    (re.compile(r'(?i)\b(password|passwd|secret|token|api_hash|phone_code|login_code|session|auth_key)'
                r'(=|["\']\s*:\s*["\'])[^\s"\',;&]+'), r'\1\2[redacted]'),
    (re.compile(r'[A-Za-z0-9+/_-]{80,}={0,2}'), '[redacted-blob]'),
]

_state: dict[str, Any] = {'sink_id': None, 'default_removed': False}


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _patch(record: dict[str, Any]) -> None:
    record['message'] = redact(record['message'])


class InterceptHandler(logging.Handler):
    """Send standard-library records to loguru, keeping the original logger name and caller."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        frame, depth = logging.currentframe(), 2
        while frame is not None and frame.f_code.co_filename == logging.__file__:
            frame = frame.f_back
            depth += 1
        logger.patch(lambda r: r.update(name=record.name)).opt(depth=depth, exception=record.exc_info).log(
            level, record.getMessage())


def intercept_stdlib(level: int = logging.INFO) -> None:
    """Install the intercept handler on the root logger once (other root handlers, e.g. pytest's, stay)."""
    root = logging.getLogger()
    if not any(isinstance(handler, InterceptHandler) for handler in root.handlers):
        root.addHandler(InterceptHandler())
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    # uvicorn configures its own handlers unless told otherwise; send its records to the root logger instead
    for name in ('uvicorn', 'uvicorn.error', 'uvicorn.access'):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    logging.getLogger('uvicorn.access').setLevel(logging.WARNING)
    # httpx logs every request with its URL: a webhook's URL often carries its receiver's token
    for noisy in ('pymongo', 'telethon.network.mtprotosender', 'telethon.extensions.messagepacker', 'watchfiles',
                  'httpx', 'httpcore'):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def setup_logging(level: str = 'INFO') -> None:
    """Console sink with redaction; keeps sinks added by others (tests add their own)."""
    logger.configure(patcher=_patch)
    if not _state['default_removed']:
        try:
            logger.remove(0)  # loguru's default stderr sink
        except ValueError:
            pass
        _state['default_removed'] = True
    if _state['sink_id'] is not None:
        try:
            logger.remove(_state['sink_id'])
        except ValueError:
            pass
    _state['sink_id'] = logger.add(sys.stderr, level=level, format=FORMAT, backtrace=False, diagnose=False)
    intercept_stdlib(logging.getLevelName(level) if isinstance(logging.getLevelName(level), int) else logging.INFO)
