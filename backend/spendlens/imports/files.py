"""Reading uploaded files without loading them: sniffing what a file is (text or binary, its
encoding, its header), and turning a JSON list of objects into CSV for COPY as it streams."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, BinaryIO

from spendlens.errors import AppError, Unprocessable
from spendlens.imports.formats import NATIVE_FIELDS
from spendlens.imports.schemas import FileEncoding, ImportFormat, ImportKind

SNIFF_BYTES = 64 * 1024
JSON_READ_BYTES = 1 << 20
MAX_JSON_RECORD_CHARS = 16 << 20
# A staging table has a column per file column, and PostgreSQL allows 1,600; no import format
# needs more than a few dozen.
MAX_COLUMNS = 200
# Values inside a JSON record (objects or lists, stored as JSON text) nest at most this deep.
MAX_JSON_DEPTH = 32
UTF8_BOM = codecs.BOM_UTF8

# Signatures of files people upload by mistake, with what to tell them.
_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive or an Excel/OpenDocument workbook (export it as CSV)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office document (export it as CSV)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive (decompress it first)"),
    (b"SQLite format 3", "an SQLite database"),
)


class UnsupportedFile(AppError):
    """The upload is not a text file in a supported format."""

    status_code = 415
    error = "UnsupportedMediaType"


@dataclass
class InspectedFile:
    """What an upload turned out to be, and how to stream it into COPY."""

    stream: BinaryIO
    header: list[str]
    delimiter: str
    encoding: FileEncoding
    data_start: int
    is_json: bool
    size: int
    json_ignored: list[str] = field(default_factory=list)

    def copy_source(self) -> BinaryIO:
        """The bytes COPY reads: the file itself after any BOM, or JSON converted to CSV."""
        self.stream.seek(self.data_start)
        if self.is_json:
            return JsonAsCsv(self.stream, self.header)
        return self.stream


def _refuse_binary(head: bytes) -> None:
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise UnsupportedFile(f"Not CSV or JSON text: this file is {what}")
    if b"\x00" in head:
        raise UnsupportedFile("This is a binary file, not CSV or JSON text")


def _decode_head(head: bytes, encoding: FileEncoding, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder(encoding.value)(errors="strict")
    try:
        return decoder.decode(head, final=complete)
    except UnicodeDecodeError as exc:
        raise Unprocessable(
            f"The file is not valid {encoding.value} text (byte {exc.start + 1}); files saved by "
            "Excel are often cp1252: send encoding=cp1252 (or latin-1)",
            loc=("body", "encoding"),
        )


def _csv_header(text: str, delimiter: str, complete: bool) -> list[str]:
    if not complete and "\n" not in text:
        raise Unprocessable("The first line is too long to be a CSV header", loc=("body", "file"))
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error as exc:
        raise Unprocessable(f"The header is not valid CSV: {exc}", loc=("body", "file"))
    if not any(name.strip() for name in header):
        raise Unprocessable("The file has no header line", loc=("body", "file"))
    if len(header) > MAX_COLUMNS:
        raise Unprocessable(
            f"The file has {len(header)} columns; at most {MAX_COLUMNS} are accepted",
            loc=("body", "file"),
        )
    if len(header) == 1:
        for other in (";", "\t", "|", ","):
            if other != delimiter and other in header[0]:
                raise Unprocessable(
                    f"The header has a single column; is the delimiter {other!r}? "
                    "(set it in the mapping's `delimiter`)",
                    loc=("body", "file"),
                )
    return header


def native_json_columns(kind: ImportKind) -> list[str]:
    return list(NATIVE_FIELDS[kind].values())


def inspect_upload(
    stream: BinaryIO,
    *,
    kind: ImportKind,
    fmt: ImportFormat,
    encoding: FileEncoding,
    delimiter: str,
) -> InspectedFile:
    """Refuse binaries (415) and files in the wrong encoding or without a header (422)."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    if not head.strip():
        raise Unprocessable("The file is empty", loc=("body", "file"))
    _refuse_binary(head)
    start = 0
    if head.startswith(UTF8_BOM):
        start, encoding = len(UTF8_BOM), FileEncoding.utf_8
    complete = size <= SNIFF_BYTES
    text = _decode_head(head[start:], encoding, complete)

    if fmt is ImportFormat.json:
        if encoding is not FileEncoding.utf_8:
            raise Unprocessable("JSON files are UTF-8", loc=("body", "encoding"))
        first = text.lstrip()[:1]
        if first not in ("[", "{"):
            raise Unprocessable(
                "Not a JSON list of objects (the file should start with '[')",
                loc=("body", "file"),
            )
        columns = native_json_columns(kind)
        stream.seek(start)
        ignored = _first_record_keys(stream, columns)
        return InspectedFile(stream, columns, ",", encoding, start, True, size, ignored)

    header = _csv_header(text, delimiter, complete)
    return InspectedFile(stream, header, delimiter, encoding, start, False, size)


def _first_record_keys(stream: BinaryIO, columns: list[str]) -> list[str]:
    """Keys of the first object that the format does not know (the rest is read by COPY)."""
    try:
        for record in iter_json_records(stream):
            return [key for key in record if key not in columns]
    except JsonRejected as exc:
        raise Unprocessable(str(exc), loc=("body", "file"))
    raise Unprocessable("The JSON list is empty", loc=("body", "file"))


def _depth(value: Any) -> int:
    """How deep objects and lists nest in `value` (a scalar is 0), without recursion."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            pending.extend((child, level) for child in item)
    return deepest


def iter_json_records(stream: BinaryIO) -> Iterator[dict[str, Any]]:
    """The objects of a JSON list (or of JSON Lines), read a megabyte at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    parser = json.JSONDecoder(parse_float=Decimal)
    buffer, position, eof = "", 0, False
    in_list: bool | None = None
    expect_separator = False
    index = 0

    def fill() -> bool:
        nonlocal buffer, position, eof
        if eof:
            return False
        chunk = stream.read(JSON_READ_BYTES)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise JsonRejected(f"not valid UTF-8 ({exc.reason})", index + 1)
        buffer = buffer[position:] + text
        position = 0
        eof = not chunk
        return True

    def skip_space() -> str | None:
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n\ufeff":
                position += 1
            if position < len(buffer):
                return buffer[position]
            if not fill():
                return None

    while True:
        char = skip_space()
        if in_list is None:
            if char == "[":
                in_list = True
                position += 1
                continue
            in_list = False
        if char is None:
            if in_list:
                raise JsonRejected("the list is not closed with ']'", index + 1)
            return
        if in_list and char == "]":
            position += 1
            if skip_space() is not None:
                raise JsonRejected("unexpected data after the list", index + 1)
            return
        if expect_separator and in_list:
            if char != ",":
                raise JsonRejected("expected ',' between objects", index + 1)
            position += 1
            skip_space()
        while True:
            try:
                record, end = parser.raw_decode(buffer, position)
                break
            except json.JSONDecodeError as exc:
                # More text may complete the record; past a record this big it is broken.
                if len(buffer) - position > MAX_JSON_RECORD_CHARS or not fill():
                    raise JsonRejected(f"invalid JSON: {exc.msg}", index + 1)
            except RecursionError:
                raise JsonRejected(f"nested deeper than {MAX_JSON_DEPTH} levels", index + 1)
        position = end
        index += 1
        if not isinstance(record, dict):
            raise JsonRejected("not an object", index)
        if _depth(record) > MAX_JSON_DEPTH:
            raise JsonRejected(f"nested deeper than {MAX_JSON_DEPTH} levels", index)
        expect_separator = True
        yield record


class JsonRejected(Exception):
    def __init__(self, message: str, record: int) -> None:
        super().__init__(f"JSON record {record}: {message}")
        self.record = record


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class JsonAsCsv(io.RawIOBase):
    """A readable byte stream of CSV lines (with a header) made from a JSON list of objects."""

    def __init__(self, stream: BinaryIO, columns: list[str]) -> None:
        self.records = iter_json_records(stream)
        self.columns = columns
        self.pending = b""
        self.text = io.StringIO()
        self.writer = csv.writer(self.text, lineterminator="\n")
        self.writer.writerow(columns)
        self.done = False
        self.failure: JsonRejected | None = None

    def readable(self) -> bool:
        return True

    def _produce(self, wanted: int) -> None:
        while len(self.pending) < wanted and not self.done:
            for _ in range(1000):
                record = next(self.records, None)
                if record is None:
                    self.done = True
                    break
                self.writer.writerow([_cell(record.get(name)) for name in self.columns])
            self.pending += self.text.getvalue().encode("utf-8")
            self.text.seek(0)
            self.text.truncate()

    def read(self, size: int = -1) -> bytes:
        wanted = size if size and size > 0 else JSON_READ_BYTES
        try:
            self._produce(wanted)
        except JsonRejected as exc:
            self.failure = exc  # COPY only sees that reading failed; the caller reports this
            raise
        chunk, self.pending = self.pending[:wanted], self.pending[wanted:]
        return chunk

    def readinto(self, target) -> int:  # pragma: no cover - read() is what COPY uses
        chunk = self.read(len(target))
        target[: len(chunk)] = chunk
        return len(chunk)
