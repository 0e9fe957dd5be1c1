"""Small SSD extracts for the tests, written as a council's ZIP: ``ssd_<table>.csv`` members at its root."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from mappings.council_ssd import CouncilSsd
from mappings.models import Agency

PERSON = (
    "pers_person_id,pers_sex,pers_dob,pers_ethnicity,pers_upn_unknown,pers_forename\n"
    "C1,F,2015-06-01,WBRI,UN1,Alice\n"
    "C2,M,2012-02-03 00:00:00.000,BAFR,UN2,Ben\n"
)
EPISODES = (
    "cine_referral_id,cine_person_id,cine_referral_date,cine_referral_source_code,cine_cin_primary_need_code,"
    "cine_referral_nfa,cine_close_date,cine_close_reason\n"
    "R1,C1,2024-05-10,1A,N1,N,,\n"
    "R2,C2,2024-06-11 09:30:00,3A,N4,Y,2024-06-11,RC8\n"
)


def extract_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    """Write ``members`` (name to text) as a ZIP at ``path``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    path.write_bytes(buffer.getvalue())
    return path


def good(tmp_path: Path, **more: str) -> Path:
    """A small, correct extract (two children, two referrals), with ``more`` members besides."""
    return extract_zip(tmp_path / "ssd.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": EPISODES, **more})


def set_council_ssd(engine: Engine, agency_code: str, **given: Any) -> None:
    """Give the council's agency these SSD settings (none: the defaults), as its agency file or the API would."""
    stored = CouncilSsd.model_validate(given).stored()
    with Session(engine) as session:
        agency = session.get(Agency, agency_code)
        assert agency is not None, agency_code
        definition = {k: v for k, v in agency.definition.items() if k != "ssd"}
        agency.definition = {**definition, **({"ssd": stored} if stored else {})}
        session.commit()
