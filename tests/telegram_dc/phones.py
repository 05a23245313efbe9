"""Phone numbers as Telegram reads them, and the test-DC code convention."""

import re

_JUNK = re.compile(r'[\s()+-]')


def normalize_phone(phone: str) -> str | None:
    digits = _JUNK.sub('', phone or '')
    return digits if digits.isdigit() and 7 <= len(digits) <= 15 else None


def code_for_test_phone(phone: str) -> str | None:
    """Telegram's test-DC convention: 99966XYYYY logs in with code XXXXX."""
    if len(phone) == 10 and phone.startswith('99966'):
        return phone[5] * 5
    return None
