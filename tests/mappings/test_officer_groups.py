"""Officers' comparator groups kept in the store: seeded from groups.toml, created, renamed, changed and deleted,
every member code checked against the geography; the comparison reads them from the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from cli.commands import app
from mappings.comparison import kept_groups as groups
from mappings.comparison.groups import group_for, officer_groups
from mappings.comparison.kept_groups import GroupChange, GroupInput
from onereturn.errors import Conflict, InvalidInput, NotFound

EAST_MIDLANDS = ["E10000024", "E10000007", "E06000018"]


def test_the_seed_file_is_in_the_store(session: Session) -> None:
    stored = {g.id: g for g in groups.stored_groups(session)}
    assert stored["core_cities_england"].origin == "seed"
    assert len(stored["core_cities_england"].members) == 8
    assert officer_groups(session)["core_cities_england"].title == "English Core Cities"


def test_create_rename_change_and_delete(session: Session) -> None:
    made = groups.create_group(
        session, GroupInput(id="east_mids", title="East Midlands counties", source="test", members=EAST_MIDLANDS)
    )
    assert made.members == EAST_MIDLANDS
    assert [m.codes[0] for m in group_for("E10000024", "east_mids", session).members] == EAST_MIDLANDS
    assert "east_mids" not in officer_groups()  # the seed file alone knows nothing of it
    with pytest.raises(Conflict):
        groups.create_group(session, GroupInput(id="east_mids", title="Again", members=EAST_MIDLANDS))
    groups.update_group(session, "east_mids", GroupChange(title="Three East Midlands councils"))
    groups.update_group(session, "east_mids", GroupChange(members=[" e10000024 ", "E06000018"]))
    group = group_for("E10000024", "east_mids", session)
    assert group.title == "Three East Midlands councils"
    assert [m.codes[0] for m in group.members] == ["E10000024", "E06000018"]
    assert group.members[0].name == "Nottinghamshire"
    groups.delete_group(session, "east_mids")
    with pytest.raises(KeyError, match="east_mids"):
        group_for("E10000024", "east_mids", session)
    with pytest.raises(NotFound):
        groups.update_group(session, "east_mids", GroupChange(title="Back again"))
    # The id may be used again.
    groups.create_group(session, GroupInput(id="east_mids", title="East Midlands", members=["E10000024"]))
    assert officer_groups(session)["east_mids"].title == "East Midlands"


def test_member_codes_the_geography_lacks_are_refused_and_named(session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        groups.create_group(
            session, GroupInput(id="bad", title="Made up", members=["E10000024", "E99999999", "NOTACODE"])
        )
    assert "E99999999" in refused.value.message
    assert "NOTACODE" in refused.value.message
    assert [e["input"] for e in refused.value.errors] == ["E99999999", "NOTACODE"]
    with pytest.raises(NotFound):
        groups.get_group(session, "bad")
    with pytest.raises(InvalidInput, match="E99999999"):
        groups.update_group(session, "core_cities_england", GroupChange(members=["E99999999"]))
    assert len(groups.get_group(session, "core_cities_england").members) == 8
    with pytest.raises(InvalidInput, match="service's own groups"):
        groups.create_group(session, GroupInput(id="statistical_neighbours", title="Mine", members=["E10000024"]))


def test_a_deleted_seed_group_is_not_loaded_again(session: Session) -> None:
    groups.delete_group(session, "core_cities_england")
    assert groups.seed_groups(session) == 0
    assert "core_cities_england" not in officer_groups(session)


def test_the_catalogue_check_refuses_seed_members_the_geography_lacks(tmp_path: Path) -> None:
    bad = tmp_path / "groups.toml"
    bad.write_text(
        '[[group]]\nid = "made_up"\ntitle = "Made up"\nsource = "test"\nmembers = ["E08000025", "E99999999"]\n',
        encoding="utf-8",
    )
    refused = CliRunner().invoke(app, ["catalogue", "check", "--groups", str(bad)])
    assert refused.exit_code == 1, refused.output
    assert f"{bad}:2: broken-reference: group made_up: member code(s) not in the geography: E99999999" in refused.output
    bundled = CliRunner().invoke(app, ["catalogue", "check"])
    assert bundled.exit_code == 0, bundled.output
