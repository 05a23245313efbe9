"""Path and query parameters the API shares, bounded to what Telegram and MongoDB hold.

Ids are 64-bit in Telegram's schema and in MongoDB; message and folder ids are 32-bit. A number outside those is a
400 in the error shape, never an overflow deep in the database driver. Dates without a zone are read as UTC.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, Field

from app.mtproto.refs import MAX_CHANNEL_ID

MAX_FOLDER_ID = 2**31 - 1

ChannelIdPath = Annotated[int, Path(ge=1, le=MAX_CHANNEL_ID, description='a stored channel id, as listed')]
ChannelIdItem = Annotated[int, Field(ge=1, le=MAX_CHANNEL_ID)]
IdPath = Annotated[str, Path(min_length=1, max_length=64, description='an id as the API gave it')]
FolderIdPath = Annotated[int, Path(ge=0, le=MAX_FOLDER_ID, description='a chat folder id, as listed')]
BeforeIdQuery = Annotated[int | None, Query(
    ge=1, le=MAX_CHANNEL_ID, description='only posts with a smaller message id; above the newest post it starts '
                                         'from the newest')]


def _date_as_day_start(value: object) -> object:
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time.min)
    return value


def _date_as_day_end(value: object) -> object:
    if isinstance(value, str) and len(value) == 10:  # a plain date: the whole day is in
        try:
            return datetime.combine(date.fromisoformat(value), time.max)
        except ValueError:
            return value
    return _date_as_day_start(value)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


DateQuery = Annotated[datetime | None, BeforeValidator(_date_as_day_start), AfterValidator(_as_utc), Query(
    description='a date (2024-02-01) or a date and time (2024-02-01T12:00:00+03:00); without a zone, UTC')]

UntilQuery = Annotated[datetime | None, BeforeValidator(_date_as_day_end), AfterValidator(_as_utc), Query(
    description='a date (2024-02-01: that whole day is included) or a date and time; without a zone, UTC')]

__all__ = ['UntilQuery', 'IdPath', 'BeforeIdQuery', 'ChannelIdItem', 'ChannelIdPath', 'DateQuery', 'FolderIdPath']
