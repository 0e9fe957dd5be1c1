"""A publisher's file read by the reader of its source's format: EES's tidy CSV or query JSON, OHID's Fingertips
CSV or JSON, NDTMS's ViewIt export."""

from __future__ import annotations

import polars as pl

from collectors.published.read import (
    read_ees_csv,
    read_ees_query_json,
    read_fingertips_csv,
    read_fingertips_json,
)
from collectors.published.sources import SourceSpec
from collectors.published.viewit import read_viewit_csv


def read_published(spec: SourceSpec, data: bytes) -> tuple[pl.DataFrame, int]:
    """Read a publisher's file in whichever of its source's formats it is: a JSON document is the publisher's API
    answer (EES ``/meta`` with ``/query`` results, or a FingertipsNext ``/data`` response), anything else its CSV."""
    is_json = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")
    if spec.format == "ndtms_viewit":
        return read_viewit_csv(spec, data)
    if spec.format == "fingertips":
        return read_fingertips_json(spec, data) if is_json else read_fingertips_csv(spec, data)
    return read_ees_query_json(spec, data) if is_json else read_ees_csv(spec, data)
