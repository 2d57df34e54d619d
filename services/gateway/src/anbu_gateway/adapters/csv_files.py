"""Partners' CSV files on disk: stored as they arrive, checked, then read as a stream.

An upload is written to the gateway's upload directory in chunks while its SHA-256 is
computed, so memory stays bounded whatever the file's size. Its encoding is then checked
from the first byte to the last (naming the line of the first byte that does not decode),
and the worker reads it back record by record with the csv module over a decoded text
stream, one record ahead, so that a last record cut off mid-line is recognised.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import os
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from ..domain.encoding import CP949, UTF8, public_name, reads_as_korean
from ..domain.file_rows import Record

READ_CHUNK = 1 << 20
csv.field_size_limit(1 << 20)


class TooLarge(Exception):
    pass


@dataclass(frozen=True)
class StoredFile:
    path: Path
    sha256: str
    size: int


async def store(chunks: AsyncIterator[bytes], path: Path, max_bytes: int) -> StoredFile:
    """Write ``chunks`` to ``path`` (fsynced); raise :class:`TooLarge` past ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "wb") as out:  # noqa: ASYNC230 - small writes of received chunks
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"the file is larger than {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    return StoredFile(path, digest.hexdigest(), size)


class Undecodable(Exception):
    def __init__(self, line: int, codec: str, detail: str) -> None:
        super().__init__(detail)
        self.line = line
        self.codec = codec
        self.detail = detail


@dataclass(frozen=True)
class EncodingCheck:
    codec: str  # a Python codec name: utf-8-sig or cp949
    detected: bool  # True when not declared but recognised
    lines: int  # physical lines in the file

    @property
    def name(self) -> str:
        return public_name(self.codec)


def _decode_all(path: Path, codec: str) -> tuple[int, tuple[int, int] | None]:
    """(line count, None) if ``path`` decodes whole as ``codec``; else (0, (line, offset))."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    lines = 0
    offset = 0
    last = b""
    with path.open("rb") as raw:
        while True:
            chunk = raw.read(READ_CHUNK)
            final = not chunk
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                pending = len(exc.object) - len(chunk)  # bytes held over from the last chunk
                at = max(exc.start - pending, 0)
                return 0, (lines + chunk[:at].count(b"\n") + 1, offset + at)
            if final:
                break
            lines += chunk.count(b"\n")
            offset += len(chunk)
            last = chunk[-1:]
    if offset and last != b"\n":
        lines += 1  # a last line without a line break is still a line
    return lines, None


def _sample(path: Path, around: int, size: int = 64 * 1024) -> bytes:
    with path.open("rb") as raw:
        raw.seek(max(around - size // 4, 0))
        return raw.read(size)


def check_encoding(path: Path, codec: str | None) -> EncodingCheck:
    """The codec to read ``path`` with; raises :class:`Undecodable` naming the first bad line.

    ``codec`` is the declared one (None: detect). Detection tries UTF-8 first, then CP949
    when the whole file decodes as CP949 and reads as Korean text.
    """
    if codec is not None:
        lines, error = _decode_all(path, codec)
        if error is None:
            return EncodingCheck(codec, False, lines)
        raise Undecodable(
            error[0],
            codec,
            f"line {error[0]} is not valid {public_name(codec)} (byte offset {error[1]}); "
            "check the declared encoding",
        )
    lines, error = _decode_all(path, UTF8)
    if error is None:
        return EncodingCheck(UTF8, False, lines)
    cp_lines, cp_error = _decode_all(path, CP949)
    if cp_error is None:
        sample = _sample(path, error[1])
        text = sample.decode(CP949, errors="ignore")
        guess = from_bytes(sample).best()
        guessed_korean = guess is not None and (
            guess.encoding in {"cp949", "euc_kr", "johab"} or "Korean" in guess.languages
        )
        if reads_as_korean(text) or guessed_korean:
            return EncodingCheck(CP949, True, cp_lines)
    raise Undecodable(
        error[0],
        UTF8,
        f"line {error[0]} is not valid UTF-8 (byte offset {error[1]}) and the file is not "
        "recognisable EUC-KR/CP949 either; declare the encoding with ?encoding=euc-kr or "
        "convert the file to UTF-8",
    )


def ends_with_line_break(path: Path) -> bool:
    """Whether the file's last byte is a line break (CR and LF are one byte in every codec
    the gateway reads, so the raw bytes tell)."""
    with path.open("rb") as raw:
        raw.seek(0, 2)
        if raw.tell() == 0:
            return True
        raw.seek(-1, 2)
        return raw.read(1) in (b"\n", b"\r")


def records(path: Path, codec: str) -> Generator[Record, None, None]:
    """Every record of the file after its header line, one ahead (bounded memory).

    A quoted field that is never closed is reported on the line where its record starts.
    The reader iterates the file itself (C speed) and its ``line_num`` counts the physical
    lines, so a record spanning lines still reports the line it starts on.
    """
    ended = ends_with_line_break(path)
    with path.open("r", encoding=codec, errors="strict", newline="") as text:
        reader = csv.reader(text, strict=True)
        try:
            next(reader)  # the header (checked by read_header)
        except (StopIteration, csv.Error):
            return
        row = 0
        held: Record | None = None
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row += 1
                message = str(exc)
                if "unexpected end of data" in message:
                    message = "a quoted field is never closed: the file ends inside it"
                current = Record(start, row, [], error=message)
            else:
                if not cells:  # a blank line
                    continue
                row += 1
                current = Record(start, row, cells)
            if held is not None:
                yield held
            held = current
        if held is not None:
            if not ended and held.error is None:
                held = Record(held.line, held.row, held.cells, cut=True)
            yield held


def read_header(path: Path, codec: str) -> list[str] | None:
    """The header cells, or None for an empty file."""
    with path.open("r", encoding=codec, errors="strict", newline="") as text:
        try:
            return next(csv.reader(text, strict=True))
        except StopIteration:
            return None
        except csv.Error:
            return []
