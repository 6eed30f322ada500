"""The bulk import's file, read into rows: CSV (UTF-8) or XLSX (its first worksheet), one
header row, the same columns either way. Nothing is evaluated: a cell is its text (a
spreadsheet formula is kept as the text of the formula, which no field accepts as a date, a
number or a key), and nothing read here is ever written back into a spreadsheet."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from welfare.people.import_rules import COLUMNS, Row

XLSX_MAGIC = b"PK\x03\x04"
# An XLSX is a zip: what it unpacks to is capped too (a small file can unpack to gigabytes).
XLSX_MAX_EXPANSION = 20
MAX_CELL_CHARS = 1024
MAX_COLUMNS = 64

FILE_EMPTY = "The file has no header row."
NOT_UTF8 = "A CSV file must be UTF-8."
NOT_CSV = "Row {row}: not readable as CSV."
NOT_XLSX = "Not a readable XLSX workbook."
XLSX_TOO_BIG = "The workbook unpacks to more than {limit} bytes."
UNKNOWN_COLUMNS = "Unknown columns: {columns}. The columns are: {known}."
DUPLICATE_COLUMNS = "Columns named twice: {columns}."
KIND_COLUMN_MISSING = "The header row needs a kind column."
TOO_MANY_CELLS = "Row {row}: more cells than the header row has columns."
CELL_TOO_LONG = "Row {row}: a cell is longer than {limit} characters."
TOO_MANY_ROWS = "At most {limit} rows in one file (this one has more)."
NO_ROWS = "The file has a header row but no rows."


class ImportFileError(ValueError):
    """The file as a whole cannot be read; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Table:
    format: str
    rows: tuple[Row, ...]


def read_table(content: bytes, *, max_rows: int) -> Table:
    """The rows of a CSV or XLSX file (told apart by their first bytes, not their names)."""
    if content.startswith(XLSX_MAGIC):
        return Table("xlsx", _rows(_xlsx_records(content), max_rows))
    return Table("csv", _rows(_csv_records(content), max_rows))


def _csv_records(content: bytes) -> Iterator[tuple[int, list[str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(NOT_UTF8) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    number = 0
    try:
        for record in reader:
            number += 1
            yield number, record
    except csv.Error as exc:  # a NUL byte, a field past the csv module's limit
        raise ImportFileError(NOT_CSV.format(row=number + 1)) from exc


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_records(content: bytes) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    limit = len(content) * XLSX_MAX_EXPANSION
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ImportFileError(NOT_XLSX) from exc
    if unpacked > limit:
        raise ImportFileError(XLSX_TOO_BIG.format(limit=limit))
    try:
        # read_only streams the sheet; data_only=False keeps a formula as its own text.
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds of error on a broken file
        raise ImportFileError(NOT_XLSX) from exc
    try:
        if not book.worksheets:
            raise ImportFileError(NOT_XLSX)
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [_cell_text(v) for v in values[: MAX_COLUMNS + 1]]
    finally:
        book.close()


def _header(record: list[str]) -> list[str]:
    names = [cell.strip().lower().replace(" ", "_") for cell in record]
    while names and not names[-1]:
        names.pop()
    unknown = sorted({n for n in names if n not in COLUMNS})
    if unknown:
        shown = ", ".join(n or "(empty)" for n in unknown)
        raise ImportFileError(UNKNOWN_COLUMNS.format(columns=shown, known=", ".join(COLUMNS)))
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ImportFileError(DUPLICATE_COLUMNS.format(columns=", ".join(twice)))
    if "kind" not in names:
        raise ImportFileError(KIND_COLUMN_MISSING)
    return names


def _rows(records: Iterable[tuple[int, list[str]]], max_rows: int) -> tuple[Row, ...]:
    columns: list[str] | None = None
    rows: list[Row] = []
    for number, record in records:
        cells = [cell.strip() for cell in record]
        if columns is None:
            if not any(cells):
                continue
            columns = _header(cells)
            continue
        if not any(cells):
            continue
        if any(cells[len(columns) :]):
            raise ImportFileError(TOO_MANY_CELLS.format(row=number))
        if any(len(cell) > MAX_CELL_CHARS for cell in cells):
            raise ImportFileError(CELL_TOO_LONG.format(row=number, limit=MAX_CELL_CHARS))
        if len(rows) == max_rows:
            raise ImportFileError(TOO_MANY_ROWS.format(limit=max_rows))
        rows.append(Row(number, dict(zip(columns, cells, strict=False))))
    if columns is None:
        raise ImportFileError(FILE_EMPTY)
    if not rows:
        raise ImportFileError(NO_ROWS)
    return tuple(rows)
