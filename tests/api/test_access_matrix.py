"""The access matrix: every route in the app's OpenAPI, with every kind of caller and other bodies' objects.

Routes are read from the OpenAPI document, so a new route is tried automatically; a route with no
rule here fails the test until one is written. Each route is called with no key, a wrong key, a
revoked key and the key of every role (officer, two agencies, two regulators), on its own objects
and on other bodies' objects. Each answer must be the expected 2xx / 401 / 403 / 404, carry the
security headers, and never contain a figure, submission, file, export, lineage row or key of a
body the caller may not read (marker strings planted in each body's uploads give any leak away).
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.main import create_app
from api.throttle import KeyThrottle
from collectors.figures.service import submit
from exports import service as exports
from mappings import keys
from mappings.catalogue import DEFAULT_DECLARATION
from onereturn.settings import Settings

HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
KEYS = {
    "officer": "demo-officer-5e0b9c2a4f",
    "notts": "demo-notts-cyp-2c9f41d07b",
    "lewisham": "demo-lewisham-council-8d2e6a51",
    "dfe": "demo-regulator-dfe-7a3c18e2",
    "ndtms": "demo-regulator-ohid-c4d91f60",
}
DEMO_KEYS = [*KEYS.values(), "demo-lewisham-ccg-93fa0d17", "demo-lewisham-drugs-51b7c0e3"]


@dataclass(frozen=True)
class Who:
    """One caller: its key, kind, and the agency or returns it answers for."""

    name: str
    key: str | None
    kind: str | None = None  # None: no valid key
    agency: str | None = None
    recipient: str | None = None  # "dfe" or "ndtms": whose returns a regulator reads


CALLERS = [
    Who("no key", None),
    Who("wrong key", "demo-not-a-real-key-000000"),
    Who("revoked key", "{revoked}"),  # an officer's key, revoked before the matrix starts
    Who("officer", KEYS["officer"], "officer"),
    Who("agency notts_cyp", KEYS["notts"], "agency", agency="notts_cyp"),
    Who("agency lewisham_council", KEYS["lewisham"], "agency", agency="lewisham_council"),
    Who("regulator DfE", KEYS["dfe"], "regulator", recipient="dfe"),
    Who("regulator NDTMS", KEYS["ndtms"], "regulator", recipient="ndtms"),
]

#: Marker strings planted in each body's uploads (file name and note), and who may ever see each.
#: An agency sees its own; a regulator sees the provenance of cells of its own returns only.
MARKERS = {
    "MXNOTTSLAC": {"officer", "agency notts_cyp", "regulator DfE"},  # cyp.lac_count: in the DfE return
    "MXNOTTSCORE": {"officer", "agency notts_cyp"},  # only in the county core data set (no regulator's)
    "MXLEWLAC": {"officer", "agency lewisham_council", "regulator DfE"},
    "MXDRUGS": {"officer", "regulator NDTMS"},  # lewisham_drugs' NDTMS figure
}
#: The regulator each return is addressed to (None: no regulator's); another recipient's return must never show
#: in what a regulator is given. ("nis" and "crc" are left out: the public catalogue cites "NIS 2008" and "CRC".)
RETURN_READERS = {
    "dfe_ssda903": "regulator DfE",
    "dfe_cin_census": "regulator DfE",
    "ndtms_adult_monthly": "regulator NDTMS",
    # Addressed to the partnership's board, and read by NDTMS's team besides (its file's readers).
    "ndtms_viewit_la": "regulator NDTMS",
    "county_cyp_core": None,
    "vital_signs": None,
}
UPLOADS = {
    "MXNOTTSLAC": ("notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,MXNOTTSLAC"),
    "MXNOTTSCORE": ("notts_cyp", "cyp.childrens_centre_seen_n,E10000024,FY2024-25,,17,,,,MXNOTTSCORE"),
    "MXLEWLAC": ("lewisham_council", "cyp.lac_count,E09000023,2025-03-31,,480,,,,MXLEWLAC"),
    "MXDRUGS": ("lewisham_drugs", "drugs.adults_in_treatment,PRV-LEW-01,2024-03,,212,,,,MXDRUGS"),
}


#: A council's own Annex A columns, by child id (the template's headings).
ANNEX_COLUMNS = b"Child Unique ID,List 3: Allocated Team\nX1,Team\n"

#: Stands for the digest of the sign-off review as it is when the case is sent.
READ = "<the digest read>"


@dataclass(frozen=True)
class Case:
    """One request of a route: its parameters and whose object it names."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    #: "agency:<code>", "return:<dfe|ndtms|none>", "missing", "invalid", "conflict" (409: not from the current
    #: state), or None for a list of the caller's own.
    owner: str | None = None
    form: dict[str, str] | None = None
    json: dict[str, Any] | None = None
    file: tuple[str, bytes] | None = None


@dataclass(frozen=True)
class Rule:
    """Who may call a route at all ("public" for everyone, with or without a key), and the cases to try."""

    readers: frozenset[str]
    cases: tuple[Case, ...]


def rule(readers: str, *cases: Case) -> Rule:
    """Make a rule from space-separated reader kinds and its cases (one plain call if none)."""
    return Rule(frozenset(readers.split()), cases or (Case(),))


SUBMISSION_CASES = (
    Case({"submission_id": "{sub:MXNOTTSLAC}"}, owner="agency:notts_cyp"),
    Case({"submission_id": "{sub:MXLEWLAC}"}, owner="agency:lewisham_council"),
    Case({"submission_id": "{sub:MXDRUGS}"}, owner="agency:lewisham_drugs"),
    Case({"submission_id": "2147483647"}, owner="missing"),
)
SNAPSHOT_CASES = (
    Case({"snapshot_id": "{snap:dfe}"}, owner="return:dfe"),
    Case({"snapshot_id": "{snap:ndtms}"}, owner="return:ndtms"),
    Case({"snapshot_id": "{snap:core}"}, owner="return:none"),
    Case({"snapshot_id": "2147483647"}, owner="missing"),
)
TEMPLATE = {"period": "FY2024-25"}


def sdmx_cases(kind: str) -> tuple[Case, ...]:
    """Structure requests: every flow the caller may see, then one flow of each recipient."""
    one = {"agency_id": "ONERETURN", "version": "latest"}
    return (
        Case({"agency_id": "all", "resource_id": "all", "version": "latest"}),
        Case(one | {"resource_id": f"{kind}_DFE_SSDA903"}, owner="return:dfe"),
        Case(one | {"resource_id": f"{kind}_NDTMS_ADULT_MONTHLY"}, owner="return:ndtms"),
        Case(one | {"resource_id": f"{kind}_COUNTY_CYP_CORE"}, owner="return:none"),
    )


def sdmx_data(flow: str) -> dict[str, str]:
    """The path of one flow's data, every series."""
    return {"flow_ref": flow, "key": "all", "provider_ref": "all"}


def signoff_path(agency: str) -> dict[str, str]:
    """The path of an agency's sign-off of the DfE looked-after children return for FY2024-25."""
    return {"agency": agency, "return_id": "dfe_ssda903", "period": "FY2024-25"}


#: One rule per operation of the OpenAPI document.
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/health"): rule("public"),
    ("GET", "/health/ready"): rule("public"),
    ("GET", "/api/indicators"): rule("public"),
    ("GET", "/api/indicators/{indicator_id}"): rule("public", Case({"indicator_id": "cyp.lac_count"})),
    ("GET", "/api/codelists"): rule("public"),
    ("GET", "/api/returns"): rule("public"),
    ("GET", "/api/returns/{return_id}"): rule("public", Case({"return_id": "dfe_ssda903"})),
    ("GET", "/api/orgs"): rule("public"),
    ("GET", "/api/orgs/{code}"): rule("public", Case({"code": "E10000024"})),
    ("GET", "/api/agencies"): rule("officer agency"),
    ("GET", "/api/agencies/{code}"): rule(
        "officer agency",
        Case({"code": "notts_cyp"}, owner="agency:notts_cyp"),
        Case({"code": "lewisham_council"}, owner="agency:lewisham_council"),
        Case({"code": "no_such_agency"}, owner="missing"),
    ),
    ("GET", "/api/agencies/{code}/template"): rule(
        "officer agency",
        Case({"code": "notts_cyp"}, TEMPLATE, owner="agency:notts_cyp"),
        Case({"code": "lewisham_council"}, TEMPLATE, owner="agency:lewisham_council"),
    ),
    ("POST", "/api/submissions"): rule(
        "officer agency",
        Case(form={"mode": "dry_run", "agency": "notts_cyp"}, owner="agency:notts_cyp"),
        Case(form={"mode": "dry_run", "agency": "lewisham_council"}, owner="agency:lewisham_council"),
    ),
    ("GET", "/api/submissions"): rule("officer agency"),
    ("GET", "/api/submissions/{submission_id}"): rule("officer agency", *SUBMISSION_CASES),
    # A council's findings by child: its own key only, never an officer's or a regulator's.
    ("GET", "/api/submissions/{submission_id}/records"): rule("agency", *SUBMISSION_CASES),
    # Ofsted's Annex A names children: the council's own approver key only (the demo agency keys are approvers).
    ("GET", "/api/agencies/{code}/annex-a"): rule(
        "agency",
        Case({"code": "notts_cyp"}, {"inspection_date": "2025-03-31"}, owner="agency:notts_cyp"),
        Case({"code": "lewisham_council"}, {"inspection_date": "2025-03-31"}, owner="agency:lewisham_council"),
    ),
    ("GET", "/api/agencies/{code}/annex-a.xlsx"): rule(
        "agency",
        Case({"code": "notts_cyp"}, {"inspection_date": "2025-03-31"}, owner="agency:notts_cyp"),
        Case({"code": "lewisham_council"}, {"inspection_date": "2025-03-31"}, owner="agency:lewisham_council"),
    ),
    ("GET", "/api/agencies/{code}/annex-a/template.xlsx"): rule(
        "agency",
        Case({"code": "notts_cyp"}, owner="agency:notts_cyp"),
        Case({"code": "lewisham_council"}, owner="agency:lewisham_council"),
    ),
    ("POST", "/api/agencies/{code}/annex-a/columns"): rule(
        "agency",
        Case({"code": "notts_cyp"}, file=("cols.csv", ANNEX_COLUMNS), owner="agency:notts_cyp"),
        Case({"code": "lewisham_council"}, file=("cols.csv", ANNEX_COLUMNS), owner="agency:lewisham_council"),
    ),
    # The CIN census and SSDA903 made from a council's SSD extract: its own approver key only. No agency of the
    # matrix uploaded an extract, so each is answered as not there (404) to those who may read it.
    ("GET", "/api/agencies/{code}/record-files/{collection_year}/{file}"): rule(
        "agency",
        Case({"code": "notts_cyp", "collection_year": "2024-25", "file": "cin_census.xml"}, owner="missing"),
        Case({"code": "lewisham_council", "collection_year": "2024-25", "file": "ssda903.zip"}, owner="missing"),
    ),
    # DfE's payloads from a council's SSD extract: its own approver key only; no agency of the matrix uploaded one.
    ("GET", "/api/agencies/{code}/csc-api/children"): rule(
        "agency",
        Case({"code": "notts_cyp"}, {"as_of": "2025-06-01"}, owner="missing"),
        Case({"code": "lewisham_council"}, {"as_of": "2025-06-01"}, owner="missing"),
    ),
    # DfE's EHC plan tables from a council's SEN2 file (counts, no child): its own key or an officer's; no agency of
    # the matrix uploaded one.
    ("GET", "/api/agencies/{code}/sen2/{collection_year}/tables"): rule(
        "officer agency",
        Case({"code": "notts_cyp", "collection_year": "2024-25"}, owner="missing"),
        Case({"code": "lewisham_council", "collection_year": "2024-25"}, owner="missing"),
    ),
    ("GET", "/api/agencies/{code}/sen2/{collection_year}/cross-checks"): rule(
        "officer agency",
        Case({"code": "notts_cyp", "collection_year": "2024-25"}, owner="missing"),
        Case({"code": "lewisham_council", "collection_year": "2024-25"}, owner="missing"),
    ),
    ("GET", "/api/agencies/{code}/sen2/{collection_year}/tables/{table}.csv"): rule(
        "officer agency",
        Case({"code": "notts_cyp", "collection_year": "2024-25", "table": "caseload"}, owner="missing"),
        Case({"code": "lewisham_council", "collection_year": "2024-25", "table": "requests"}, owner="missing"),
    ),
    # England's and each region's rows added up from the councils' records: every kind reads them (a council its own
    # rows beside England's, another regulator nothing); no council of the matrix sent records, so none is made.
    ("GET", "/api/sen2/{collection_year}/england"): rule(
        "officer agency regulator", Case({"collection_year": "2024-25"}, owner="missing")
    ),
    ("GET", "/api/sen2/{collection_year}/england/{table}.csv"): rule(
        "officer agency regulator", Case({"collection_year": "2024-25", "table": "caseload"}, owner="missing")
    ),
    ("GET", "/api/england/{return_id}/{collection_year}"): rule(
        "officer agency regulator",
        Case({"return_id": "dfe_ssda903", "collection_year": "2024-25"}, owner="missing"),
        Case({"return_id": "dfe_cin_census", "collection_year": "2024-25"}, owner="missing"),
    ),
    ("GET", "/api/england/{return_id}/{collection_year}.csv"): rule(
        "officer agency regulator", Case({"return_id": "dfe_ssda903", "collection_year": "2024-25"}, owner="missing")
    ),
    # The area SEND inspection's List 1 names children: the council's own approver key only; no agency of the matrix
    # uploaded a SEN2 file.
    ("GET", "/api/agencies/{code}/annex-a-send"): rule(
        "agency",
        Case({"code": "notts_cyp"}, {"inspection_date": "2025-03-31"}, owner="missing"),
        Case({"code": "lewisham_council"}, {"inspection_date": "2025-03-31"}, owner="missing"),
    ),
    ("GET", "/api/agencies/{code}/annex-a-send.xlsx"): rule(
        "agency",
        Case({"code": "notts_cyp"}, {"inspection_date": "2025-03-31"}, owner="missing"),
        Case({"code": "lewisham_council"}, {"inspection_date": "2025-03-31"}, owner="missing"),
    ),
    # List 2 names children as List 1 does; no agency of the matrix keeps a school census.
    ("GET", "/api/agencies/{code}/annex-a-send/list-2"): rule(
        "agency",
        Case({"code": "notts_cyp"}, {"inspection_date": "2025-03-31"}, owner="missing"),
        Case({"code": "lewisham_council"}, {"inspection_date": "2025-03-31"}, owner="missing"),
    ),
    # The looked-after children's school estimates (counts, no child): its own key or an officer's.
    ("GET", "/api/agencies/{code}/census/looked-after-school"): rule(
        "officer agency",
        Case({"code": "notts_cyp"}, {"inspection_date": "2025-03-31"}, owner="missing"),
        Case({"code": "lewisham_council"}, {"inspection_date": "2025-03-31"}, owner="missing"),
    ),
    ("GET", "/api/submissions/{submission_id}/report.csv"): rule("officer agency", *SUBMISSION_CASES),
    ("GET", "/api/submissions/{submission_id}/report.xlsx"): rule("officer agency", *SUBMISSION_CASES),
    ("GET", "/api/submissions/{submission_id}/queries"): rule("officer agency", *SUBMISSION_CASES),
    ("POST", "/api/submissions/{submission_id}/queries/{figure_id}"): rule(
        "officer agency",
        Case({"submission_id": "2147483647", "figure_id": "1"}, json={"note": "explained"}, owner="missing"),
    ),
    ("GET", "/api/rules"): rule("public"),
    ("GET", "/api/figures"): rule(
        "officer agency",
        Case(),
        Case(query={"history": "true"}),
        Case(query={"agency": "notts_cyp"}, owner="agency:notts_cyp"),
        Case(query={"agency": "lewisham_council"}, owner="agency:lewisham_council"),
        Case(query={"agency": "lewisham_drugs"}, owner="agency:lewisham_drugs"),
    ),
    ("GET", "/api/compare"): rule(
        "officer agency",
        Case(query={"indicator": "cyp.lac_count", "org": "E10000024", "period": "2025-03-31"}),
        Case(query={"indicator": "cyp.lac_count", "org": "E09000023", "period": "2025-03-31"}),
        Case(query={"indicator": "no.such_indicator", "org": "E10000024", "period": "2025-03-31"}, owner="missing"),
    ),
    ("GET", "/api/compare/flags"): rule(
        "officer agency",
        Case(query={"org": "E10000024"}),
        Case(query={"org": "E99999999"}, owner="missing"),
    ),
    ("GET", "/api/compare.xlsx"): rule(
        "officer agency",
        Case(query={"indicator": "cyp.lac_count", "org": "E10000024", "period": "2025-03-31"}),
    ),
    ("GET", "/api/returns/{return_id}/{period_file}"): rule(
        "officer regulator",
        Case({"return_id": "dfe_ssda903", "period_file": "FY2024-25.xlsx"}, owner="return:dfe"),
        Case({"return_id": "dfe_ssda903", "period_file": "FY2024-25.json"}, owner="return:dfe"),
        Case({"return_id": "ndtms_adult_monthly", "period_file": "2024-03.csv"}, owner="return:ndtms"),
        Case({"return_id": "county_cyp_core", "period_file": "FY2024-25-Q4.json"}, owner="return:none"),
    ),
    ("GET", "/api/returns/{return_id}/{period}/completeness"): rule(
        "officer regulator",
        Case({"return_id": "dfe_ssda903", "period": "FY2024-25"}, owner="return:dfe"),
        Case({"return_id": "ndtms_adult_monthly", "period": "2024-03"}, owner="return:ndtms"),
        Case({"return_id": "county_cyp_core", "period": "FY2024-25-Q4"}, owner="return:none"),
    ),
    ("GET", "/api/returns/{return_id}/{period}/changes"): rule(
        "officer regulator",
        Case({"return_id": "dfe_ssda903", "period": "FY2024-25"}, query={"since": "2000-01-01"}, owner="return:dfe"),
        Case(
            {"return_id": "ndtms_adult_monthly", "period": "2024-03"},
            query={"since": "2000-01-01"},
            owner="return:ndtms",
        ),
        Case(
            {"return_id": "county_cyp_core", "period": "FY2024-25-Q4"},
            query={"since": "2000-01-01"},
            owner="return:none",
        ),
    ),
    ("GET", "/api/exports"): rule("officer regulator"),
    ("GET", "/api/exports/{snapshot_id}"): rule("officer regulator", *SNAPSHOT_CASES),
    ("GET", "/api/exports/{snapshot_id}/lineage"): rule("officer regulator", *SNAPSHOT_CASES),
    ("GET", "/api/burden"): rule("officer", Case(query={"period": "FY2024-25"})),
    ("GET", "/api/calendar"): rule(
        "officer agency",
        Case(query={"from": "2025-04-01", "to": "2025-06-30"}),
        Case(query={"from": "2025-04-01", "agency": "notts_cyp"}, owner="agency:notts_cyp"),
        Case(query={"from": "2025-04-01", "agency": "lewisham_council"}, owner="agency:lewisham_council"),
    ),
    ("GET", "/api/calendar.ics"): rule("public"),
    ("GET", "/api/calendar/clashes"): rule("officer agency", Case(query={"from": "2025-04-01"})),
    ("GET", "/api/outbox"): rule("officer agency"),
    ("GET", "/sdmx/dataflow/{agency_id}/{resource_id}/{version}"): rule("officer regulator", *sdmx_cases("DF")),
    # Agencies, keys and the audit trail are the officer's alone. Cases that change nothing shared
    # (a throwaway key, a dry run, refused input) keep the matrix's other callers unaffected.
    ("POST", "/api/agencies"): rule("officer", Case(json={"code": "Not A Code"}, owner="invalid")),
    ("PATCH", "/api/agencies/{code}"): rule(
        "officer",
        # A demo agency is changed in its file, not over the API.
        Case({"code": "notts_cyp"}, json={"name": "Nottinghamshire"}, owner="invalid"),
        Case({"code": "no_such_agency"}, json={"name": "Nobody at all"}, owner="missing"),
    ),
    # Officers' comparator groups are the officer's alone; the cases change nothing (refused input, no such group).
    ("GET", "/api/groups"): rule("officer"),
    ("GET", "/api/groups/{group_id}"): rule(
        "officer",
        Case({"group_id": "core_cities_england"}),
        Case({"group_id": "no_such_group"}, owner="missing"),
    ),
    ("POST", "/api/groups"): rule(
        "officer", Case(json={"id": "Not An Id", "title": "x", "members": []}, owner="invalid")
    ),
    ("PATCH", "/api/groups/{group_id}"): rule(
        "officer",
        Case({"group_id": "core_cities_england"}, json={"members": ["E99999999"]}, owner="invalid"),
        Case({"group_id": "no_such_group"}, json={"title": "Nobody at all"}, owner="missing"),
    ),
    ("DELETE", "/api/groups/{group_id}"): rule("officer", Case({"group_id": "no_such_group"}, owner="missing")),
    ("POST", "/api/agencies/import"): rule(
        "officer",
        Case(query={"dry_run": "true"}, file=("agencies.csv", b"code,name\nNot A Code,x\n"), owner="invalid"),
    ),
    ("GET", "/api/keys"): rule("officer", Case(), Case(query={"revoked": "false"})),
    ("POST", "/api/keys"): rule(
        "officer",
        Case(json={"role": "agency", "agency": "notts_cyp", "label": "matrix: issued"}),
        Case(json={"role": "agency", "label": "matrix: no agency"}, owner="invalid"),
    ),
    ("POST", "/api/keys/{prefix}/revoke"): rule(
        "officer", Case({"prefix": "{throwaway:revoke}"}), Case({"prefix": "zzzzzzzzzzzz"}, owner="missing")
    ),
    ("POST", "/api/keys/{prefix}/rotate"): rule(
        "officer", Case({"prefix": "{throwaway:rotate}"}), Case({"prefix": "zzzzzzzzzzzz"}, owner="missing")
    ),
    ("GET", "/api/audit"): rule("officer", Case(), Case(query={"action": "key"})),
    # Published figures: the officer's; the differences set a body's own figures beside a publisher's.
    ("GET", "/api/published/sources"): rule("officer"),
    # The register of establishments: said to any key (it names schools, never a child); loaded by the officer.
    ("GET", "/api/establishments"): rule("officer agency regulator"),
    ("POST", "/api/establishments"): rule(
        "officer", Case(file=("edubasealldata20250101.csv", b'"URN"\r\n"100001"\r\n'), owner="invalid")
    ),
    ("GET", "/api/published/releases"): rule("officer", Case(), Case(query={"source": "ons_population_0_17"})),
    ("GET", "/api/published/differences"): rule("officer", Case(), Case(query={"org": "E10000024"})),
    ("POST", "/api/published/sources/{source_id}/releases"): rule(
        "officer",
        Case({"source_id": "ons_population_0_17"}, file=("pop.csv", b"time_period,la_name\n2024,x\n"), owner="invalid"),
        Case({"source_id": "no_such_source"}, file=("pop.csv", b"x\n"), owner="missing"),
    ),
    ("GET", "/api/published/queries"): rule("officer", Case(), Case(query={"state": "all"})),
    ("POST", "/api/published/queries/{held_id}"): rule(
        "officer", Case({"held_id": "2147483647"}, json={"note": "confirmed"}, owner="missing")
    ),
    ("POST", "/api/published/releases/{release_id}/queries"): rule(
        "officer", Case({"release_id": "2147483647"}, json={"note": "confirmed"}, owner="missing")
    ),
    ("GET", "/sdmx/datastructure/{agency_id}/{resource_id}/{version}"): rule("officer regulator", *sdmx_cases("DSD")),
    ("GET", "/sdmx/codelist/{agency_id}/{resource_id}/{version}"): rule(
        "officer regulator",
        Case({"agency_id": "all", "resource_id": "all", "version": "latest"}),
        Case({"agency_id": "ONERETURN", "resource_id": "CL_SEX", "version": "latest"}),
    ),
    # Sign-off: an agency's approver signs its own (the demo agency keys are approvers); the officer accepts or
    # sends back. The matrix runs routes in path order: accept and return find the sign-off still open (409), then
    # Nottinghamshire signs off and withdraws its sign-off.
    ("GET", "/api/signoffs"): rule(
        "officer agency regulator",
        Case(),
        Case(query={"return": "dfe_ssda903", "period": "FY2024-25"}, owner="return:dfe"),
        Case(query={"return": "ndtms_adult_monthly"}, owner="return:ndtms"),
    ),
    ("GET", "/api/signoffs/{agency}/{return_id}/{period}"): rule(
        "officer agency",
        Case(signoff_path("notts_cyp"), owner="agency:notts_cyp"),
        Case(signoff_path("lewisham_council"), owner="agency:lewisham_council"),
        Case(signoff_path("no_such_agency"), owner="missing"),
    ),
    ("POST", "/api/signoffs/{agency}/{return_id}/{period}/sign-off"): rule(
        "agency",
        Case(
            signoff_path("notts_cyp"),
            json={"declaration": DEFAULT_DECLARATION, "digest": READ},
            owner="agency:notts_cyp",
        ),
        Case(
            signoff_path("lewisham_council"),
            json={"declaration": DEFAULT_DECLARATION, "digest": READ},
            owner="agency:lewisham_council",
        ),
    ),
    ("POST", "/api/signoffs/{agency}/{return_id}/{period}/unapprove"): rule(
        "agency",
        Case(signoff_path("notts_cyp"), owner="agency:notts_cyp"),
    ),
    ("POST", "/api/signoffs/{agency}/{return_id}/{period}/accept"): rule(
        "officer", Case(signoff_path("notts_cyp"), owner="conflict")
    ),
    ("POST", "/api/signoffs/{agency}/{return_id}/{period}/return"): rule(
        "officer", Case(signoff_path("notts_cyp"), json={"reason": "matrix"}, owner="conflict")
    ),
    # A region's hub (docs/regions.md): a council's consent is its own (read by it or an officer, changed by its
    # approver); no region exists in the matrix's store, so each is answered as not there to those who may call it.
    # The region's outputs are read with a key of the region's own agency, which none of the matrix's callers holds.
    ("GET", "/api/agencies/{council}/consent/{region}"): rule(
        "officer agency", Case({"council": "notts_cyp", "region": "no_region"}, owner="missing")
    ),
    ("GET", "/api/agencies/{council}/consent/{region}/history"): rule(
        "officer agency", Case({"council": "notts_cyp", "region": "no_region"}, owner="missing")
    ),
    ("PUT", "/api/agencies/{council}/consent/{region}"): rule(
        "agency", Case({"council": "notts_cyp", "region": "no_region"}, json={"use_cases": ["pan"]}, owner="missing")
    ),
    ("DELETE", "/api/agencies/{council}/consent/{region}"): rule(
        "agency", Case({"council": "notts_cyp", "region": "no_region"}, owner="missing")
    ),
    ("GET", "/api/regions/{region}"): rule("officer", Case({"region": "no_region"}, owner="missing")),
    ("GET", "/api/regions/{region}/pan/{table}.csv"): rule(
        "region", Case({"region": "no_region", "table": "ssda903_header"}, owner="missing")
    ),
    ("GET", "/api/regions/{region}/figures"): rule("region", Case({"region": "no_region"}, owner="missing")),
    ("GET", "/api/regions/{region}/sufficiency/placements.csv"): rule(
        "region", Case({"region": "no_region"}, owner="missing")
    ),
    ("GET", "/sdmx/data/{flow_ref}/{key}/{provider_ref}"): rule(
        "officer regulator",
        Case(sdmx_data("DF_DFE_SSDA903"), {"startPeriod": "2024-04", "endPeriod": "2025-03"}, owner="return:dfe"),
        Case(
            sdmx_data("DF_NDTMS_ADULT_MONTHLY"),
            {"startPeriod": "2024-03", "endPeriod": "2024-03"},
            owner="return:ndtms",
        ),
        Case(sdmx_data("DF_COUNTY_CYP_CORE"), {"startPeriod": "2025-01", "endPeriod": "2025-03"}, owner="return:none"),
    ),
}


def expected_status(who: Who, route: Rule, case: Case) -> int:
    """Say what a caller must get: 2xx (as 200), 401, 403 or 404."""
    if "public" in route.readers:
        return 200
    if who.kind is None:
        return 401
    if who.kind not in route.readers:
        return 403
    owner = case.owner or ""
    if owner == "missing":
        return 404
    if owner == "invalid":
        return 422
    if owner == "conflict":
        return 409
    if owner.startswith("agency:") and who.kind == "agency" and owner[7:] != who.agency:
        # Uploading as another agency is refused outright; reading another agency's object hides it.
        return 403 if case.form is not None else 404
    if owner.startswith("return:") and who.kind == "regulator" and owner[7:] != who.recipient:
        return 404
    return 200


@dataclass
class World:
    """The objects planted for the matrix: submission ids by marker and snapshot ids by return owner."""

    ids: dict[str, str]

    def fill(self, template: str) -> str:
        """Replace a placeholder with the planted object's id (or the revoked key)."""
        if template.startswith("{") and template.endswith("}"):
            return self.ids[template[1:-1]]  # e.g. {sub:MXDRUGS}, {snap:dfe}, {revoked}, {throwaway:rotate}
        return template


@pytest.fixture
def world(store: Engine, store_settings: Settings) -> World:
    """Plant each body's uploads (one marker each), three snapshots, a revoked officer key and two throwaway keys."""
    ids: dict[str, str] = {}
    for marker, (agency, row) in UPLOADS.items():
        outcome = submit(
            store, store_settings, agency_code=agency, filename=f"{marker}.csv", data=(HEADER + row + "\n").encode()
        )
        assert outcome.submission is not None
        assert outcome.submission.rows_accepted == 1, (marker, outcome.problems)
        ids[f"sub:{marker}"] = str(outcome.submission.id)
    with Session(store) as session:
        for owner, (return_id, period) in {
            "dfe": ("dfe_ssda903", "FY2024-25"),
            "ndtms": ("ndtms_adult_monthly", "2024-03"),
            "core": ("county_cyp_core", "FY2024-25-Q4"),
        }.items():
            ids[f"snap:{owner}"] = str(exports.snapshot(session, return_id, period, "json").id)
        revoked, secret = keys.create_key(session, role="officer", label="matrix: revoked officer")
        keys.revoke_key(session, revoked.prefix)
        ids["revoked"] = secret
        for use in ("revoke", "rotate"):
            throwaway, _ = keys.create_key(session, role="agency", agency_code="notts_cyp", label=f"matrix: to {use}")
            ids[f"throwaway:{use}"] = throwaway.prefix
        session.commit()
    return World(ids)


@pytest.fixture
def matrix_client(store: Engine, store_settings: Settings) -> Iterator[TestClient]:
    """A client on the planted store (failed keys are not throttled: the matrix sends many on purpose)."""
    # Reads audited in batches off the request, as `serve` runs: who may call what does not depend on it, and
    # the matrix's thousand reads no longer each wait for a commit of their own.
    app = create_app(store_settings, engine=store, batch_read_audit=True)
    app.state.key_throttle = KeyThrottle(failures=10**9)
    with TestClient(app) as client:
        yield client


def body_text(content: bytes) -> str:
    """Return everything readable in a body: text, or every member of a ZIP (XLSX) container."""
    if content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    return content.decode("utf-8", "replace")


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def leaks(who: Who, route: Rule, content: bytes, world: World, *, ok: bool = True) -> list[str]:
    """List everything in a response the caller may not see (an error may echo back the names it was asked for)."""
    text = body_text(content)
    found = [f"marker {m}" for m, seers in MARKERS.items() if m in text and who.name not in seers]
    secrets = [*DEMO_KEYS, *(world.ids[k] for k in ("revoked",) if k in world.ids)]
    found += [f"key {k[:12]}…" for k in secrets if k in text or keys.hash_key(k) in text]
    if "public" in route.readers:
        return found
    if who.kind == "regulator" and ok:
        lowered = text.lower()
        found += [
            f"return {r}"
            for r, reader in RETURN_READERS.items()
            if reader != who.name and re.search(rf"(?<![a-z0-9]){r}(?![a-z0-9])", lowered)
        ]
    if who.kind != "agency":
        return found
    own_subs = {world.ids.get(f"sub:{m}") for m, (agency, _) in UPLOADS.items() if agency == who.agency}
    try:
        parsed = json.loads(text)
    except ValueError:
        return found
    for key, value in _walk(parsed):
        if key in {"agency_code", "agency"} and isinstance(value, str) and value != who.agency:
            found.append(f"{key}={value}")
        if key == "agencies" and isinstance(value, list) and any(a != who.agency for a in value if isinstance(a, str)):
            found.append(f"agencies={value}")
        if key == "submission_id" and value is not None and str(value) not in own_subs:
            found.append(f"submission {value}")
    return found


def call(client: TestClient, method: str, path: str, case: Case, world: World, who: Who) -> Any:
    """Send one request of the matrix."""
    url = path
    for name, value in case.path.items():
        url = url.replace("{" + name + "}", world.fill(value))
    key = world.fill(who.key) if who.key else None
    headers = {"X-API-Key": key} if key else {}
    if case.json and case.json.get("digest") == READ:
        # A sign-off names the digest of the review read: the officer reads it, so every caller sends the same.
        officer = next(c for c in CALLERS if c.kind == "officer" and c.key)
        review = client.get(url.removesuffix("/sign-off"), headers={"X-API-Key": world.fill(str(officer.key))})
        case = replace(case, json={**case.json, "digest": review.json().get("digest", "0" * 64)})
    if method == "POST" and path == "/api/submissions":
        row = UPLOADS["MXNOTTSLAC"][1] if case.owner == "agency:notts_cyp" else UPLOADS["MXLEWLAC"][1]
        files = {"file": ("dry.csv", (HEADER + row + "\n").encode(), "text/csv")}
        return client.post(url, headers=headers, data=case.form or {}, files=files)
    files_ = {"file": (case.file[0], case.file[1], "text/csv")} if case.file else None
    return client.request(method, url, params=case.query, headers=headers, json=case.json, files=files_)


def operations(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    """Return every (method, path) the OpenAPI document lists."""
    return {(method.upper(), path) for path, item in openapi["paths"].items() for method in item}


def test_every_route_with_every_caller(matrix_client: TestClient, world: World) -> None:
    ops = operations(matrix_client.get("/openapi.json").json())
    missing = sorted(ops - set(RULES))
    assert not missing, f"routes with no access rule (add one to RULES): {missing}"
    assert not set(RULES) - ops, f"rules for routes that no longer exist: {sorted(set(RULES) - ops)}"
    tried: Counter[str] = Counter()
    wrong: list[str] = []
    found: list[str] = []
    for (method, path), route in sorted(RULES.items()):
        for case in route.cases:
            for who in CALLERS:
                response = call(matrix_client, method, path, case, world, who)
                tried[who.name] += 1
                want = expected_status(who, route, case)
                got = response.status_code
                where = f"{method} {path} {case.path or ''}{case.query or ''}{case.form or ''} as {who.name}"
                if (got // 100 != 2) if want == 200 else got != want:
                    wrong.append(f"{where}: {got}, expected {want}: {response.text[:200]}")
                headers = response.headers
                if headers.get("x-content-type-options") != "nosniff" or headers.get("x-frame-options") != "DENY":
                    wrong.append(f"{where}: security headers missing")
                if who.key and headers.get("cache-control") != "no-store":
                    wrong.append(f"{where}: a keyed response without Cache-Control: no-store")
                found += [
                    f"{where}: {leak}" for leak in leaks(who, route, response.content, world, ok=response.is_success)
                ]
    # The counts are the matrix's evidence; -s shows them.
    sys.stderr.write(
        f"\naccess matrix: {len(RULES)} routes, {sum(len(r.cases) for r in RULES.values())} cases, "
        f"{len(CALLERS)} callers, {sum(tried.values())} requests, {len(wrong)} wrong statuses, {len(found)} leaks\n"
    )
    assert not wrong, "\n".join(wrong)
    assert not found, "\n".join(found)
    # Every route was tried with every caller, at least once each.
    assert set(tried.values()) == {sum(len(r.cases) for r in RULES.values())}
    assert len(tried) == len(CALLERS)


def test_a_new_route_is_seen_by_the_matrix(tmp_path: Any) -> None:
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/api/new-thing")
    def new_thing() -> dict[str, str]:
        return {}

    assert sorted(operations(app.openapi()) - set(RULES)) == [("GET", "/api/new-thing")]


def test_leak_detector_sees_markers_in_workbooks() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/sharedStrings.xml", "<t>MXDRUGS</t>")
    notts = CALLERS[4]
    assert leaks(notts, RULES[("GET", "/api/figures")], buffer.getvalue(), World({})) == ["marker MXDRUGS"]
    body = json.dumps({"data": [{"agency_code": "lewisham_council", "submission_id": None}]}).encode()
    assert leaks(notts, RULES[("GET", "/api/figures")], body, World({})) == ["agency_code=lewisham_council"]
