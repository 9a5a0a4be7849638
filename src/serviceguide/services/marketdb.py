"""Loading and exporting a network's accesses as MdB2 files (CSV or TAB).

The one importer behind every way a file arrives (the command line, an upload on the web):
it reads the file in batches, checks each row (domain.mdb), upserts the valid ones and reports
the rest by line. A file is read as UTF-8 when all of it is UTF-8, else as Windows-1252, the
superset of Latin-1 that older systems write. With ``replace`` the network's accesses that the
file does not name are retired afterwards — only when every row was imported, so that a bad row
never retires the access it was meant to describe. The export writes UTF-8.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import io
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO, cast

from serviceguide.domain.clock import utcnow
from serviceguide.domain.errors import InvalidInput, NotFound
from serviceguide.domain.mdb import COLUMNS, AccessRow, Header, MdbFormat, Rejection, RowChecker
from serviceguide.domain.mdb import guess_format as guess_format_of
from serviceguide.services.context import AppContext
from serviceguide.storage import accesses, catalogue

Source = str | os.PathLike[str] | BinaryIO | TextIO

#: Rows written per transaction: large enough to amortise a round trip, small enough that other
#: writers (orders from the guide) get the SQLite write lock between batches.
BATCH_SIZE = 20_000
#: A report keeps at most this many rejections (and counts them all).
MAX_REJECTIONS = 10_000


@dataclass(frozen=True, slots=True)
class ImportProgress:
    rows: int  # data rows read so far
    bytes_read: int
    bytes_total: int | None  # None for a stream of unknown size


@dataclass(slots=True)
class ImportReport:
    coid: str
    format: MdbFormat
    rows: int = 0  # data rows in the file (blank lines not counted)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: int = 0
    rejections: list[Rejection] = field(default_factory=list)  # the first MAX_REJECTIONS
    absent: int = 0  # accesses in use of the network the file does not mention (kept)
    retired: int = 0  # accesses the file does not mention, retired (``replace``)
    replace: bool = False  # asked to retire what the file does not mention
    encoding: str = "utf-8"  # how the file was read: utf-8 or windows-1252
    ignored_columns: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def imported(self) -> int:
        return self.inserted + self.updated + self.unchanged

    @property
    def complete(self) -> bool:
        """Every row of the file was imported."""
        return self.rejected_rows == 0


ProgressCallback = Callable[[ImportProgress], None]
BatchHook = Callable[["ImportReport", ImportProgress], Awaitable[None]]


UTF8 = "utf-8"
#: Files that are not UTF-8: Windows-1252 reads every Latin-1 (ISO 8859-1) letter the same, and
#: the dashes and quotes Windows puts in 0x80-0x9F, where Latin-1 has control characters.
LEGACY = "windows-1252"


@dataclass(slots=True)
class _Opened:
    text: TextIO
    position: Callable[[], int]
    size: int | None
    encoding: str = UTF8


def encoding_of(binary: BinaryIO) -> str:
    """UTF-8 when everything from the stream's position on decodes as UTF-8, else Windows-1252;
    the stream is put back where it was. One pass at the speed of the codec (in C)."""
    start = binary.tell()
    decoder = codecs.getincrementaldecoder(UTF8)()
    try:
        while chunk := binary.read(1 << 20):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return UTF8
    except UnicodeDecodeError:
        return LEGACY
    finally:
        binary.seek(start)


def _decoded(binary: BinaryIO) -> io.TextIOWrapper:
    """A text stream of a seekable binary one. Bytes the encoding has no character for (five
    in Windows-1252) become U+FFFD, which rejects their row."""
    encoding = encoding_of(binary)
    # utf-8-sig: a byte-order mark some editors write is not part of the first column's name.
    return io.TextIOWrapper(
        binary,
        encoding=f"{UTF8}-sig" if encoding == UTF8 else encoding,
        errors="replace",
        newline="",
    )


@contextlib.contextmanager
def _open(source: Source) -> Iterator[_Opened]:
    """A text stream of ``source``, decoded as :func:`encoding_of` says."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            binary: BinaryIO = path.open("rb")
        except OSError as e:
            raise InvalidInput("file", f"cannot read {path}: {e.strerror}") from None
        with binary:
            wrapped = _decoded(binary)
            encoding = wrapped.encoding.removesuffix("-sig")
            yield _Opened(wrapped, binary.tell, path.stat().st_size, encoding)
        return
    if isinstance(source, io.TextIOBase):
        yield _Opened(source, lambda: 0, None)
        return
    with contextlib.ExitStack() as stack:
        binary = cast(BinaryIO, source)
        if not binary.seekable():  # the encoding is known only at the end: keep a copy to re-read
            spool = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=32 << 20))
            shutil.copyfileobj(binary, spool)
            spool.seek(0)
            binary = cast(BinaryIO, spool)
        wrapped = _decoded(binary)
        try:
            yield _Opened(wrapped, binary.tell, None, wrapped.encoding.removesuffix("-sig"))
        finally:
            wrapped.detach()  # the caller owns the stream (a spooled copy is closed on exit)


def _format_of(fmt: MdbFormat | str | None, source: Source) -> MdbFormat:
    if fmt is not None:
        try:
            return MdbFormat(str(fmt).lower())
        except ValueError:
            raise InvalidInput("format", f"format must be csv or tab, not {fmt!r}") from None
    if isinstance(source, str | os.PathLike):
        return guess_format_of(Path(source).name) or _sniff(Path(source))
    return guess_format_of(str(getattr(source, "name", ""))) or MdbFormat.CSV


def _sniff(path: Path) -> MdbFormat:
    """TAB when the header row has tabs and no commas; CSV otherwise."""
    try:
        with path.open("rb") as f:
            first = f.readline(65536)
    except OSError:
        return MdbFormat.CSV  # the import reports the unreadable file
    return MdbFormat.TAB if b"\t" in first and b"," not in first else MdbFormat.CSV


class _FileReader:
    """Reads checked rows from an MdB2 file in batches (run in a worker thread)."""

    def __init__(
        self, opened: _Opened, fmt: MdbFormat, coid: str, report: ImportReport, *, names: bool
    ) -> None:
        self.opened = opened
        self.report = report
        self.reader = csv.reader(opened.text, delimiter=fmt.delimiter, strict=False)
        try:
            first = next(self.reader, None)
        except csv.Error as e:
            raise InvalidInput("header", f"line 1: unreadable header row: {e}") from None
        if first is None:
            raise InvalidInput("header", "the file is empty: no header row")
        header = Header.parse(first)
        report.ignored_columns = header.ignored
        # The accessIds themselves are kept only to retire the others (``replace``).
        self.checker = RowChecker(header, coid, keep_names=names)
        self.last_line = self.reader.line_num

    def batch(self, size: int) -> list[AccessRow]:
        rows: list[AccessRow] = []
        report, check, reader = self.report, self.checker.check, self.reader
        while len(rows) < size:
            line = self.last_line + 1
            try:
                cells = next(reader, None)
            except csv.Error as e:
                raise InvalidInput("file", f"line {line}: unreadable: {e}") from None
            if cells is None:
                break
            self.last_line = reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            report.rows += 1
            result = check(line, cells)
            if isinstance(result, AccessRow):
                rows.append(result)
                continue
            report.rejected_rows += 1
            room = MAX_REJECTIONS - len(report.rejections)
            if room > 0:
                report.rejections.extend(result[:room])
        return rows

    def progress(self) -> ImportProgress:
        return ImportProgress(self.report.rows, self.opened.position(), self.opened.size)


async def import_accesses(
    ctx: AppContext,
    coid: str,
    source: Source,
    fmt: MdbFormat | str | None = None,
    progress: ProgressCallback | None = None,
    *,
    replace: bool = False,
    batch_size: int = BATCH_SIZE,
    after_batch: BatchHook | None = None,
) -> ImportReport:
    """Load a network's accesses from an MdB2 file: valid rows are upserted, invalid reported.

    The accessId is the identity: a known one is updated when its data changed (and only then
    gets a new ``updated_at``), an unknown one is inserted, a retired one is brought back.
    Accesses the file does not mention are kept and counted in ``absent``; with ``replace`` they
    are retired (counted in ``retired``) once every row of the file was imported — with rejected
    rows nothing is retired. Orders keep their accesses either way. Batches commit one by one,
    so a fatal error half-way (an unreadable file) leaves the earlier batches imported and
    retires nothing. ``replace`` with a file of no rows at all is refused (InvalidInput): it
    would retire the whole network. ``after_batch`` is awaited after every batch with the report
    so far (an upload's progress; it may take the rejections out of ``report.rejections``, which
    then holds no more than the rejections of one batch).
    """
    started = time.monotonic()
    fmt = _format_of(fmt, source)
    async with ctx.db.read() as conn:
        network = await catalogue.network_by_coid(conn, coid)
        if network is None:
            raise NotFound("network", coid)
        # A network's first import: every valid row is new, and inserting without looking for
        # a conflict first is much faster (on PostgreSQL, a COPY into the table).
        all_new = await accesses.count(conn, network.id) == 0
    report = ImportReport(coid=coid, format=fmt, replace=replace)
    now = utcnow()

    async def write(rows: list[AccessRow]) -> accesses.UpsertCount:
        nonlocal all_new
        if all_new:
            try:
                async with ctx.db.write() as conn:
                    await accesses.insert_new(conn, network.id, rows, now)
                return accesses.UpsertCount(inserted=len(rows), updated=0)
            except accesses.AlreadyStored:
                all_new = False  # someone else adds accesses meanwhile: upsert from here on
        async with ctx.db.write() as conn:
            return await accesses.upsert(conn, network.id, rows, now)

    with _open(source) as opened:
        report.encoding = opened.encoding
        reader = await asyncio.to_thread(
            lambda: _FileReader(opened, fmt, coid, report, names=replace)
        )
        rows = await asyncio.to_thread(reader.batch, batch_size)
        while rows:
            # Parse the next batch while the database writes this one.
            counted, following = await asyncio.gather(
                write(rows), asyncio.to_thread(reader.batch, batch_size)
            )
            report.inserted += counted.inserted
            report.updated += counted.updated
            report.unchanged += len(rows) - counted.inserted - counted.updated
            if progress is not None:
                progress(reader.progress())
            if after_batch is not None:
                await after_batch(report, reader.progress())
            rows = following
        if progress is not None:
            progress(reader.progress())
        if after_batch is not None:
            await after_batch(report, reader.progress())
    if replace and report.complete:
        if report.rows == 0:
            raise InvalidInput(
                "file",
                "the file holds no accesses: replacing would retire every access of "
                f"{coid}; nothing was changed",
            )
        async with ctx.db.write() as conn:
            report.retired = await accesses.retire_absent(
                conn, network.id, reader.checker.named, utcnow()
            )
    async with ctx.db.read() as conn:
        in_use = await accesses.count(conn, network.id, retired=False)
    report.absent = in_use - report.imported
    report.seconds = time.monotonic() - started
    return report


async def export_accesses(ctx: AppContext, coid: str, fmt: MdbFormat | str, out: TextIO) -> int:
    """Write a network's accesses to ``out`` in the MdB2 layout, ordered by accessId.

    ``out`` should be opened with ``newline=""``. Returns the number of rows written. Importing
    the result again changes nothing.
    """
    fmt = _format_of(fmt, "")
    async with ctx.db.read() as conn:
        network = await catalogue.network_by_coid(conn, coid)
        if network is None:
            raise NotFound("network", coid)
        writer = csv.writer(out, delimiter=fmt.delimiter, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        written = 0
        async for row in accesses.export_rows(conn, network.id):
            writer.writerow(row.cells(coid))
            written += 1
    return written


def guess_format(path: str | os.PathLike[str]) -> MdbFormat | None:
    """The format a file's name suggests (``.csv``; ``.tab``, ``.tsv``, ``.txt``), or None."""
    return guess_format_of(Path(path).name)
