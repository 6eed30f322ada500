"""CSV and Excel renderings of a protected table, each carrying how it was protected."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from rest_framework.renderers import BaseRenderer

from welfare.stats.rules import SUPPRESSED

MARKER = "[suppressed]"
ALL = "All"


def _cell(value: Any, suppressed: bool, is_dim: bool) -> Any:
    if is_dim:
        return ALL if value is None else value
    if suppressed:
        return MARKER
    return "" if value is None else value


def table_rows(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    columns = [c for c in data["columns"] if c != SUPPRESSED]
    dims = set(data["parameters"]["group_by"])
    rows = []
    for row in [*data["rows"], *data["totals"]]:
        rows.append([_cell(row.get(c), bool(row.get(SUPPRESSED)), c in dims) for c in columns])
    return columns, rows


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        buffer = io.StringIO()
        if not isinstance(data, dict) or "columns" not in data:  # an error: plain key, value lines
            writer = csv.writer(buffer)
            for key, value in (data or {}).items():
                writer.writerow(
                    [key, value if isinstance(value, str) else "; ".join(map(str, value))]
                )
            return buffer.getvalue().encode()
        for key, value in data["parameters"].items():
            buffer.write(f"# {key}: {value if not isinstance(value, list) else ','.join(value)}\n")
        buffer.write(f"# {MARKER}: withheld by disclosure control\n")
        columns, rows = table_rows(data)
        writer = csv.writer(buffer, lineterminator="\n")
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
                sheet.append([key, str(value)])
        else:
            sheet.title = "Statistics"
            columns, rows = table_rows(data)
            sheet.append(columns)
            for cell in sheet[1]:
                cell.font = Font(bold=True)
            for row in rows:
                sheet.append(row)
            about = workbook.create_sheet("About")
            for key, value in data["parameters"].items():
                about.append([key, ",".join(value) if isinstance(value, list) else str(value)])
            about.append([MARKER, "withheld by disclosure control"])
        output = io.BytesIO()
        workbook.save(output)
        return output.getvalue()
