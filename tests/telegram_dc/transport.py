"""MTProto TCP transports (full, intermediate, padded intermediate, abridged), detected by the first bytes."""

import asyncio
import struct
from zlib import crc32

INTERMEDIATE_TAG = b'\xee\xee\xee\xee'
PADDED_TAG = b'\xdd\xdd\xdd\xdd'
ABRIDGED_TAG = 0xEF


class TransportError(Exception):
    """The peer broke the framing; the connection is dropped."""


class Transport:
    """Reads and writes MTProto packets on one TCP connection in the mode the client chose."""

    mode: str = 'unknown'

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._send_seq = 0
        self._recv_seq = 0
        self._first: bytes | None = None

    async def detect(self) -> str:
        first = await self.reader.readexactly(1)
        if first[0] == ABRIDGED_TAG:
            self.mode = 'abridged'
            return self.mode
        rest = await self.reader.readexactly(3)
        head = first + rest
        if head == INTERMEDIATE_TAG:
            self.mode = 'intermediate'
        elif head == PADDED_TAG:
            self.mode = 'padded'
        else:
            self.mode = 'full'
            self._first = head
        return self.mode

    async def read(self) -> bytes:
        mode = self.mode
        if mode == 'full':
            return await self._read_full()
        if mode == 'abridged':
            length = (await self.reader.readexactly(1))[0]
            if length >= 0x7F:
                length = int.from_bytes(await self.reader.readexactly(3), 'little')
            return await self.reader.readexactly(length << 2)
        length = struct.unpack('<i', await self.reader.readexactly(4))[0] & 0x7FFFFFFF
        data = await self.reader.readexactly(length)
        if mode == 'padded' and len(data) % 4:
            data = data[: len(data) - len(data) % 4]
        return data

    async def _read_full(self) -> bytes:
        if self._first is not None:
            length_bytes, self._first = self._first, None
        else:
            length_bytes = await self.reader.readexactly(4)
        length = struct.unpack('<i', length_bytes)[0]
        if length < 12 or length > 16 * 1024 * 1024:
            raise TransportError(f'bad packet length {length}')
        rest = await self.reader.readexactly(length - 4)
        seq, body, checksum = rest[:4], rest[4:-4], rest[-4:]
        if crc32(length_bytes + seq + body) != struct.unpack('<I', checksum)[0]:
            raise TransportError('bad crc32')
        if struct.unpack('<i', seq)[0] != self._recv_seq:
            raise TransportError('bad transport sequence number')
        self._recv_seq += 1
        return body

    def frame(self, data: bytes) -> bytes:
        mode = self.mode
        if mode == 'full':
            head = struct.pack('<ii', len(data) + 12, self._send_seq)
            self._send_seq += 1
            return head + data + struct.pack('<I', crc32(head + data))
        if mode == 'abridged':
            length = len(data) >> 2
            if length < 0x7F:
                return bytes([length]) + data
            return b'\x7f' + length.to_bytes(3, 'little') + data
        return struct.pack('<i', len(data)) + data

    def write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(self.frame(data))

    def write_error(self, code: int) -> None:
        """A transport error such as -404 (unknown auth key), sent as a bare 4-byte packet."""
        self.write(struct.pack('<i', code))

    async def drain(self) -> None:
        await self.writer.drain()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
