"""A refused key is told, in a grammatical sentence, which kinds of key the door lets through, and only those."""

from __future__ import annotations

import re

import pytest

from api.auth import check
from api.principal import Principal
from api.scopes import READERS, Resource
from api.web import shared
from mappings.keys import APPROVER_SCOPE
from onereturn.errors import Forbidden

KINDS = ("agency", "officer", "regulator")
ALL_SCOPES = frozenset({"figures:submit", "figures:read", "submissions:read", "returns:read", APPROVER_SCOPE})
#: Every door's rule: the API's dependencies (api/auth.py, api/routes/signoffs.py) and the pages' (api/web/shared.py).
RULES: list[tuple[set[str], set[str] | None, Resource | None]] = [
    ({"figures:submit"}, {"agency", "officer"}, None),
    ({"submissions:read"}, None, "submissions"),
    ({"submissions:read"}, {"agency"}, "submissions"),
    ({"figures:read"}, None, "figures"),
    ({"returns:read"}, None, "returns"),
    ({"submissions:read"}, None, "agencies"),
    ({"submissions:read"}, None, "templates"),
    ({"submissions:read"}, None, "calendar"),
    ({"submissions:read"}, None, "outbox"),
    ({"returns:read"}, None, "burden"),
    (set(), {"officer"}, None),
    (set(), None, "signoffs"),
    (set(), {"officer", "agency"}, "signoffs"),
    (set(), {"agency"}, None),
    *(
        rule
        for rule in (
            shared.SUBMIT,
            shared.SUBMISSIONS,
            shared.FIGURES,
            shared.RETURNS,
            shared.TEMPLATES,
            shared.CALENDAR,
            shared.OUTBOX,
            shared.BURDEN,
            shared.OFFICER_ONLY,
            shared.SIGNOFF_READ,
            shared.SIGN_OFF,
            shared.SIGNOFF_REVIEW,
            shared.APPROVALS,
        )
    ),
]
#: "a" before a vowel or "an" before a consonant, as in "A agency key" or "needs a officer key".
WRONG_ARTICLE = re.compile(r"\b(a [aeiou]|an [^aeiou\W])", re.IGNORECASE)


def principal(kind: str) -> Principal:
    return Principal(
        key_id=1, kind=kind, agency_code="notts_cyp" if kind == "agency" else None,
        recipient="DfE" if kind == "regulator" else None, scopes=ALL_SCOPES, label="test",
    )  # fmt: skip


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{sorted(r[1] or [])}-{r[2]}")
@pytest.mark.parametrize("kind", KINDS)
def test_a_refusal_is_grammatical_and_names_only_the_kinds_let_through(
    kind: str, rule: tuple[set[str], set[str] | None, Resource | None]
) -> None:
    scopes, kinds, reads = rule
    try:
        check(principal(kind), scopes, kinds, reads=reads)
    except Forbidden as exc:
        message = exc.message
    else:
        return
    assert not WRONG_ARTICLE.search(message), message
    named = re.search(r"it needs an? ([a-z ]+?) key", message)
    assert named is not None, message
    offered = set(named.group(1).split(" or "))
    assert kind not in offered, message
    for other in offered:
        # Each kind the message offers is let through this door.
        check(principal(other), scopes, kinds, reads=reads)
    let_through = {k for k in KINDS if k != kind and _admits(k, rule)}
    assert offered == let_through, message


def _admits(kind: str, rule: tuple[set[str], set[str] | None, Resource | None]) -> bool:
    try:
        check(principal(kind), *rule[:2], reads=rule[2])
    except Forbidden:
        return False
    return True


def test_a_regulator_refused_a_door_officers_are_refused_too_is_told_it_needs_an_agency_key() -> None:
    with pytest.raises(Forbidden) as refused:
        check(principal("regulator"), {"submissions:read"}, {"agency"}, reads="submissions")
    assert refused.value.message == "A regulator key cannot read submissions; it needs an agency key"
    with pytest.raises(Forbidden) as officer:
        check(principal("officer"), set(), {"agency"})
    assert officer.value.message == "An officer key cannot do this; it needs an agency key"
    assert READERS["submissions"] == {"agency", "officer"}


def test_an_agency_key_issued_to_no_agency_is_told_so() -> None:
    keyless = Principal(key_id=1, kind="agency", agency_code=None, recipient=None, scopes=ALL_SCOPES, label="t")
    with pytest.raises(Forbidden) as refused:
        check(keyless, {"figures:read"}, reads="figures")
    assert "not issued to any agency" in refused.value.message
    assert "needs an agency" not in refused.value.message
