"""England's and each region's figures of the SSDA903 and the CIN census, made from every council's records as DfE
makes its national and regional rows (``collectors/regions/england_figures.py``), beside each council's.

``GET /api/england/{return_id}/{collection_year}`` says which councils the rows count, which of DfE's have sent
nothing and the conventions applied; ``.../{collection_year}.csv`` gives the rows. DfE's EHC plan tables' England rows
are SEN2's own routes (``api/routes/sen2.py``). Who reads which councils' rows: ``api/access/england.py``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.access.england import EnglandRead, council_rows_shown
from api.callrecord import annotate
from api.deps import SessionDep
from api.principal import Principal
from collectors.regions.england_figures import COLUMNS, england_figures
from indicators.periods import read_collection_year
from onereturn.errors import NotFound

router = APIRouter(prefix="/api", tags=["exports"])
#: The returns whose England rows are made from the councils' figures, by the return's id: its records' library.
LIBRARIES = {"dfe_ssda903": "903", "dfe_cin_census": "cin"}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such return, not the key's, or no council's upload of the year counted"},
}


def _rows(
    request: Request, session: SessionDep, principal: Principal, return_id: str, collection_year: str
) -> tuple[str, Any]:
    """The year asked for and the return's England rows, as the key may read them."""
    library = LIBRARIES.get(return_id)
    if library is None:
        raise NotFound(f"England's rows are made for {', '.join(LIBRARIES)} (SEN2's: /api/sen2/{{year}}/england)")
    year = read_collection_year(collection_year)
    shown = council_rows_shown(session, principal, return_id)
    return year, england_figures(request.app.state.engine, library, year, shown)


# The CSV's route first: else its path would be read as the coverage's, with a year ending ".csv".
@router.get(
    "/england/{return_id}/{collection_year}.csv",
    summary="England's, each region's and the councils' figures of a record-level return, DfE's conventions applied",
    responses={200: {"content": {"text/csv": {}}}, **_RESPONSES},
)
def england_csv(
    request: Request, return_id: str, collection_year: str, session: SessionDep, principal: EnglandRead
) -> Response:
    """Every figure: England's row, each region's, then the councils' (a council's key: its own); coverage in
    ``X-Coverage``."""
    year, (rows, coverage, _) = _rows(request, session, principal, return_id, collection_year)
    annotate(request, object=f"England's {return_id} rows for {year}", detail=coverage.said())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="england-{return_id}-{year}.csv"',
            "X-Coverage": coverage.said(),
        },
    )


@router.get(
    "/england/{return_id}/{collection_year}",
    summary="Which councils England's rows of a record-level return count, and DfE's conventions applied",
    responses=_RESPONSES,
)
def england(
    request: Request, return_id: str, collection_year: str, session: SessionDep, principal: EnglandRead
) -> dict[str, Any]:
    """The coverage of England's and the regions' rows of the SSDA903 or CIN census for the year, and the rows' link."""
    year, (rows, coverage, rule) = _rows(request, session, principal, return_id, collection_year)
    annotate(request, object=f"England's {return_id} rows for {year}", detail=coverage.said())
    return {
        "return_id": return_id,
        "collection_year": year,
        **coverage.answer(),
        "conventions": {
            "withheld": f"{rule.low:g} to {rule.high:g} as {rule.symbol} (a council's figures)",
            "rounded": f"England's and the regions' counts to the nearest {rule.nearest}",
            "rates": f"ratio of the sums, to {rule.places} decimal place(s)",
            "source": rule.source,
        },
        "rows": len(rows),
        "href": f"/api/england/{return_id}/{year}.csv",
    }
