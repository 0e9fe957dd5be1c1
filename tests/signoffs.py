"""Sign off every figure in the store, as an operator's ``onereturn signoffs sign-all`` does.

Tests that upload figures and then read a return as a regulator call this between the two: since
the release gate, nothing reaches a regulator until the body that owns it has signed it off.
"""

from __future__ import annotations

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from exports.signoff import sign_off_all
from mappings.signoff.states import Actor

TEST_ACTOR = Actor("test: every figure signed off", client="testclient")


def sign_off_everything(where: Engine | Session, *, returns: list[str] | None = None) -> int:
    """Sign off every agency's figures in every return and period (or only ``returns``); return how many sign-offs."""
    if isinstance(where, Session):
        done = sign_off_all(where, TEST_ACTOR, return_ids=returns)
        where.flush()
        return len(done)
    with Session(where) as session:
        done = sign_off_all(session, TEST_ACTOR, return_ids=returns)
        session.commit()
        return len(done)


def sign_off_over_http(base: str, headers: dict[str, str], agency: str, return_id: str, period: str) -> None:
    """Sign off one agency's return for a period as its approver does: read the declaration, send it back."""
    path = f"{base}/api/signoffs/{agency}/{return_id}/{period}"
    review = httpx.get(path, headers=headers, timeout=60)
    assert review.status_code == 200, review.text
    read = {"declaration": review.json()["declaration"], "digest": review.json()["digest"]}
    signed = httpx.post(f"{path}/sign-off", headers=headers, json=read, timeout=60)
    assert signed.status_code == 200, signed.text
