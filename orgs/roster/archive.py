"""A workbook is untrusted input: before openpyxl parses anything, the archive is checked
(entries, uncompressed sizes, compression ratio, encryption, no DTD, UTF-8 only); ReadLimits also
caps what the sheets may hold while they are streamed (see orgs.roster.parsing)."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from typing import IO

from django.conf import settings

from orgs.roster.errors import ENCRYPTED, MALFORMED, UNREADABLE, Refused, refused

MB = 1024 * 1024
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted .xlsx, or an old .xls
# Some producers capitalise part names differently (Sheet1.xml, SharedStrings.xml).
SHEET_PART_RE = re.compile(r"xl/worksheets/sheet\d+\.xml", re.IGNORECASE)
STRINGS_PART = "xl/sharedstrings.xml"
DTD_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
XML_ENCODING_RE = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")


@dataclass(frozen=True)
class ReadLimits:
    """What a workbook may unpack to before it is parsed, and what its sheets may hold.

    Worksheets are streamed and the shared strings are read into one list, so they may be large;
    every other part openpyxl parses whole into a tree, so it stays small. A part over 1 MB that
    unpacks to more than `max_ratio` times its packed size is a zip bomb, not a roster (a real
    sheet packs about 15:1).
    """

    max_rows: int | None = None  # data rows per sheet; None: only Excel's own limit
    max_entries: int = 200
    max_sheet_bytes: int = 64 * MB
    max_strings_bytes: int = 32 * MB
    max_part_bytes: int = 8 * MB
    max_total_bytes: int = 160 * MB
    max_ratio: int = 100
    max_columns: int = 100
    max_cell_chars: int = 1000

    def part_cap(self, name: str) -> int:
        if SHEET_PART_RE.fullmatch(name):
            return self.max_sheet_bytes
        if name.lower() == STRINGS_PART:
            return self.max_strings_bytes
        return self.max_part_bytes


def page_limits() -> ReadLimits:
    """An import from the web page: at most ROSTER_PAGE_MAX_ROWS rows a sheet."""
    return ReadLimits(max_rows=settings.ROSTER_PAGE_MAX_ROWS)


# The operator's command: no row cap; rows are streamed, so memory stays bounded by the plan.
COMMAND_LIMITS = ReadLimits(
    max_sheet_bytes=4096 * MB, max_strings_bytes=512 * MB, max_total_bytes=6144 * MB
)


def check_archive(stream: IO[bytes], limits: ReadLimits) -> None:
    """Refuse, before any XML is parsed, a file that is not a plain .xlsx of a sane size."""
    stream.seek(0)
    if stream.read(len(OLE_MAGIC)) == OLE_MAGIC:
        raise refused(ENCRYPTED)
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise refused(UNREADABLE) from None
    with archive:
        parts = archive.infolist()
        if len(parts) > limits.max_entries:
            raise refused(
                f"文件内部包含的部件过多（{len(parts)} 个，上限 {limits.max_entries} 个），"
                "不是正常的花名册工作簿。"
            )
        for part in parts:
            if part.flag_bits & 0x1:
                raise refused(ENCRYPTED)
            if part.file_size > MB and part.file_size > limits.max_ratio * max(
                part.compress_size, 1
            ):
                ratio = part.file_size // max(part.compress_size, 1)
                raise refused(
                    f"文件部件“{part.filename}”的压缩比异常（{ratio}:1，上限 {limits.max_ratio}:1），"
                    "可能是恶意构造的文件，未读取。"
                )
            cap = limits.part_cap(part.filename)
            if part.file_size > cap:
                raise refused(
                    f"文件部件“{part.filename}”解压后 {_size(part.file_size)}，"
                    f"超过上限 {_size(cap)}，未读取。{_TOO_BIG_HINT}"
                )
        total = sum(part.file_size for part in parts)
        if total > limits.max_total_bytes:
            raise refused(
                f"文件解压后共 {_size(total)}，超过上限 {_size(limits.max_total_bytes)}，未读取。"
                f"{_TOO_BIG_HINT}"
            )
        for part in parts:
            _scan_part(archive, part)
    stream.seek(0)


_TOO_BIG_HINT = (
    "如确为大型花名册，请分批导入，或请服务器管理员用命令 manage.py import_roster 导入。"
)


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{max(n // 1024, 1)} KB"


def _scan_part(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> None:
    """Unpack one part as a stream (its real size cannot exceed the checked one): no DTD or
    entity declaration anywhere (entity expansion, external files), and XML in UTF-8 only, so the
    scan cannot be fooled by another encoding."""
    overlap = max(len(m) for m in DTD_MARKERS) - 1
    tail = b""
    try:
        with archive.open(part) as source:
            head = source.read(64 * 1024)
            _check_encoding(part.filename, head)
            chunk = head
            while chunk:
                window = tail + chunk
                if any(marker in window for marker in DTD_MARKERS):
                    raise refused(
                        f"文件部件“{part.filename}”包含 DTD 或实体声明（<!DOCTYPE、<!ENTITY），"
                        "正常的 Excel 工作簿不会有，未读取。"
                    )
                tail = window[-overlap:]
                chunk = source.read(MB)
    except Refused:
        raise
    except Exception:  # noqa: BLE001 - a bad CRC, an unknown method, a broken stream: damaged
        raise refused(MALFORMED) from None


def _check_encoding(name: str, head: bytes) -> None:
    unsupported = refused(f"文件部件“{name}”使用了不支持的字符编码（只接受 UTF-8），未读取。")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head.startswith((b"<\x00", b"\x00<")):
        raise unsupported
    match = XML_ENCODING_RE.match(head.removeprefix(b"\xef\xbb\xbf"))
    if match and match.group(1).lower() not in (b"utf-8", b"utf8"):
        raise unsupported
