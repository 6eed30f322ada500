"""CSV and Excel renderings of a protected table, safe to open in a spreadsheet.

Every text cell a spreadsheet could run as a formula is quoted (`rules.neutralise`) and Excel
cells are written as strings, never formulas. The CSV is one plain RFC 4180 table (CRLF); how
the table was protected travels beside it: in the response headers (`export_headers`), the
file name (`rules.export_filename`) and the workbook's About sheet."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet
from rest_framework.renderers import BaseRenderer

from welfare.stats import rules
from welfare.stats.rules import SUPPRESSED

MARKER = "[suppressed]"
ALL = "All"
WITHHELD = f"{MARKER} marks a value withheld by disclosure control"


def _cell(value: Any, suppressed: bool, is_dim: bool) -> Any:
    if is_dim:
        return rules.neutralise(ALL if value is None else value)
    if suppressed:
        return MARKER
    return "" if value is None else rules.neutralise(value)


def table_rows(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    columns = [c for c in data["columns"] if c != SUPPRESSED]
    dims = set(data["parameters"]["group_by"])
    rows = []
    for row in [*data["rows"], *data["totals"]]:
        rows.append([_cell(row.get(c), bool(row.get(SUPPRESSED)), c in dims) for c in columns])
    return [rules.neutralise(c) for c in columns], rows


def about(data: dict[str, Any]) -> dict[str, Any]:
    """How a table was protected, and what its marker means."""
    return {**data["parameters"], "withheld": WITHHELD}


def export_headers(data: dict[str, Any], extension: str) -> dict[str, str]:
    """`X-Stats-*` headers carrying the protection parameters, and the file name."""
    name = rules.export_filename(data["parameters"], extension)
    return {
        **rules.parameter_headers(about(data)),
        "Content-Disposition": f'attachment; filename="{name}"',
    }


def _append_text(sheet: Worksheet, values: list[Any]) -> None:
    """A row whose text cells are strings, whatever they start with (openpyxl would otherwise
    make a formula of a value starting with `=`)."""
    sheet.append([rules.neutralise(v) for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if not isinstance(data, dict) or "columns" not in data:  # an error: key, value rows
            for key, value in (data or {}).items():
                text = value if isinstance(value, str) else "; ".join(map(str, value))
                writer.writerow([rules.neutralise(key), rules.neutralise(text)])
            return buffer.getvalue().encode()
        columns, rows = table_rows(data)
        writer.writerow(columns)
        writer.writerows(rows)
        return buffer.getvalue().encode()


class XLSXRenderer(BaseRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        if not isinstance(data, dict) or "columns" not in data:
            sheet.title = "Error"
            for key, value in (data or {}).items():
                _append_text(sheet, [key, str(value)])
        else:
            sheet.title = "Statistics"
            columns, rows = table_rows(data)
            _append_text(sheet, columns)
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            for row in rows:
                _append_text(sheet, row)
            sheet_about = workbook.create_sheet("About")
            for key, value in about(data).items():
                _append_text(sheet_about, [key, rules.parameter_text(value)])
        output = io.BytesIO()
        workbook.save(output)
        return output.getvalue()
