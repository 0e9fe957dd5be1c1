"""Hand-worked Annex A cases: a small CIN census and SSDA903 whose every list membership is worked out by hand.

The inspection is on 15 November 2025: the six months begin on 15 May 2025 and the twelve on 15 November 2024.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from collectors.records.kept import content_hash, keep
from collectors.records.privacy import keys_for
from indicators.store.models import RECORDS_KIND, Submission
from onereturn.settings import Settings

INSPECTION = date(2025, 11, 15)


def _child(child_id: str, born: str | None, episodes: str, *, sex: str = "1", expected: str | None = None) -> str:
    birth = f"<PersonBirthDate>{born}</PersonBirthDate>" if born else ""
    due = f"<ExpectedPersonBirthDate>{expected}</ExpectedPersonBirthDate>" if expected else ""
    return (
        f"<Child><ChildIdentifiers><LAchildID>{child_id}</LAchildID>{birth}{due}<GenderCurrent>{sex}</GenderCurrent>"
        "</ChildIdentifiers><ChildCharacteristics><Ethnicity>WBRI</Ethnicity><Disabilities><Disability>NONE</Disability>"
        f"</Disabilities></ChildCharacteristics>{episodes}</Child>"
    )


def _episode(
    referral: str, *, closure: str | None = None, reason: str | None = None, nfa: str = "false", inner: str = ""
) -> str:
    closed = (
        f"<CINclosureDate>{closure}</CINclosureDate><ReasonForClosure>{reason}</ReasonForClosure>" if closure else ""
    )
    return (
        f"<CINdetails><CINreferralDate>{referral}</CINreferralDate><ReferralSource>1A</ReferralSource>"
        f"<PrimaryNeedCode>N1</PrimaryNeedCode>{closed}<ReferralNFA>{nfa}</ReferralNFA>{inner}</CINdetails>"
    )


#: REF1: a referral a day before the six months (14 May 2025) and a second within 12 months (1 June 2025).
#: REF2: a referral in June 2024 (over 12 months before the next) and one on 1 July 2025, then an S47 whose ICPC
#: starts a plan (open at the inspection). UNBORN: expected 10 January 2026, referred 1 October 2025.
#: CLOSED8: assessed and closed RC8 in August 2025 (in List 4, not in List 6).
CIN_XML = (
    '<?xml version="1.0" encoding="utf-8"?><Message><Header><CollectionDetails><Collection>CIN</Collection>'
    "<Year>2026</Year><ReferenceDate>2026-03-31</ReferenceDate></CollectionDetails></Header><Children>"
    + _child("REF1", "2015-06-20", _episode("2025-05-14", closure="2025-05-20", reason="RC7") + _episode("2025-06-01"))
    + _child(
        "REF2",
        "2012-11-16",
        _episode("2024-06-01", closure="2024-07-01", reason="RC7")
        + _episode(
            "2025-07-01",
            inner="<Section47><S47ActualStartDate>2025-07-05</S47ActualStartDate><DateOfInitialCPC>2025-07-20"
            "</DateOfInitialCPC><ICPCnotRequired>false</ICPCnotRequired></Section47><ChildProtectionPlans>"
            "<CPPstartDate>2025-07-20</CPPstartDate><InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>"
            "<LatestCategoryOfAbuse>EMO</LatestCategoryOfAbuse><NumberOfPreviousCPP>1</NumberOfPreviousCPP>"
            "<Reviews><CPPreviewDate>2025-10-01</CPPreviewDate><CPPreviewDate>2025-12-01</CPPreviewDate></Reviews>"
            "</ChildProtectionPlans>",
        ),
    )
    + _child("UNBORN", None, _episode("2025-10-01"), sex="0", expected="2026-01-10")
    + _child(
        "CLOSED8",
        "2010-01-01",
        _episode(
            "2025-07-01",
            closure="2025-08-01",
            reason="RC8",
            inner="<Assessments><AssessmentActualStartDate>2025-07-02</AssessmentActualStartDate>"
            "<AssessmentAuthorisationDate>2025-07-30</AssessmentAuthorisationDate></Assessments>",
        ),
    )
    + "</Children></Message>"
)

_HEADER = ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"]
_EPISODES = [
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "HOME_POST",
    "PL_POST",
    "URN",
]
#: LEFT7: left care seven months ago (15 April 2025): not in List 8. INCARE: in care since January 2024, moved in
#: March 2025 (two placements in the twelve months), legal status C2 from 1 June 2025. ADOPT13: adopted 10 October
#: 2024, thirteen months ago: not in List 10. ADOPT3: adopted 15 August 2025: in List 10. CEASED5: ceased 1 June 2025.
EPISODES = [
    ["LEFT7", "01/01/2024", "S", "C2", "N1", "U4", "PR1", "15/04/2025", "E4A", "", "", "", ""],
    ["INCARE", "01/01/2024", "S", "C1", "N1", "U4", "PR1", "01/03/2025", "X1", "", "", "NG1 1AA", "SC000001"],
    ["INCARE", "01/03/2025", "P", "C1", "N1", "K2", "PR4", "01/06/2025", "X1", "CARPL", "", "NG2 2BB", "SC000002"],
    ["INCARE", "01/06/2025", "L", "C2", "N1", "K2", "PR4", "", "", "", "", "NG2 2BB", "SC000002"],
    ["ADOPT13", "01/01/2023", "S", "E1", "N1", "A4", "PR1", "10/10/2024", "E11", "", "", "", ""],
    ["ADOPT3", "01/01/2024", "S", "E1", "N1", "A4", "PR1", "15/08/2025", "E12", "", "", "", ""],
    ["CEASED5", "01/02/2025", "S", "V2", "N4", "U6", "PR1", "01/06/2025", "E4A", "", "", "", ""],
]
HEADER = [[c, "1", "01/01/2012", "WBRI", "", "", ""] for c in ("LEFT7", "INCARE", "ADOPT13", "ADOPT3", "CEASED5")]
PLACED = [["ADOPT13", "01/01/2012", "01/03/2024", "", ""], ["ADOPT3", "01/01/2012", "01/03/2025", "", ""]]


def write_903(folder: Path) -> list[Path]:
    """The hand-worked SSDA903 tables as the council's CSVs (header, episodes, placed for adoption)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, columns, rows in (
        ("header.csv", _HEADER, HEADER),
        ("episodes.csv", _EPISODES, EPISODES),
        (
            "placed_for_adoption.csv",
            ["CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED"],
            PLACED,
        ),
    ):
        path = folder / name
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(rows)
        written.append(path)
    return written


def plant_kept(engine: Engine, settings: Settings, library: str, files: list[Path]) -> int:
    """Keep the files encrypted as a council's record-level upload that passed DfE's rules, as the service does."""
    named = [(p.name, p) for p in files]
    digest = content_hash(named)
    name = keep(engine, settings, keys_for(settings), digest, named)
    with Session(engine) as session:
        row = Submission(
            agency_code="notts_cyp",
            filename=", ".join(p.name for p in files),
            source_format=library,
            size_bytes=sum(p.stat().st_size for p in files),
            content_hash=digest,
            raw_path=name,
            received_at=datetime(2025, 11, 10, tzinfo=UTC),
            mode="default",
            status="accepted",
            kind=RECORDS_KIND,
            stage="stored",
            collection_year="2025-26",
        )
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id
