"""A file the API or a page hands over for download: its bytes, media type and name."""

from __future__ import annotations

from fastapi.responses import Response

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


def attachment(data: bytes, media_type: str, filename: str, **headers: str) -> Response:
    """The file as a download named ``filename`` (any further headers as given)."""
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"', **headers}
    )


def template_download(data: bytes, name: str, format: str) -> Response:
    """A template of figures owed, as the workbook or the CSV file asked for."""
    return attachment(data, XLSX if format == "xlsx" else CSV, name)
