"""The collector held off while a council's XML becomes a tree and rows, and given back as it was found."""

from __future__ import annotations

import gc
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from collectors.records import cin_tables, safexml
from onereturn.errors import InvalidInput
from onereturn.memory import collector_off

CENSUS = (
    b"<Message><Header><CollectionDetails><Year>2025</Year></CollectionDetails></Header><Children><Child>"
    b"<ChildIdentifiers><LAchildID>C1</LAchildID><GenderCurrent>1</GenderCurrent></ChildIdentifiers>"
    b"<CINdetails><CINreferralDate>2024-05-01</CINreferralDate></CINdetails></Child></Children></Message>"
)


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_tree_and_the_census_rows_are_made_with_the_collector_off_and_it_is_on_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []
    parse, rows = ET.fromstring, cin_tables._rows

    def parsing(data: bytes) -> ET.Element:
        seen.append(gc.isenabled())
        return parse(data)

    def reading(root: ET.Element) -> dict[str, list[dict[str, str | int | None]]]:
        seen.append(gc.isenabled())
        return rows(root)

    monkeypatch.setattr(ET, "fromstring", parsing)
    monkeypatch.setattr(cin_tables, "_rows", reading)
    tables = cin_tables.read_cin_tables(CENSUS)
    assert seen == [False, False]
    assert gc.isenabled()
    assert tables["Children"]["CHILD"].to_list() == ["C1"]
    assert tables["CINdetails"].height == 1


def test_a_file_that_is_not_xml_is_refused_and_leaves_the_collector_on() -> None:
    with pytest.raises(InvalidInput, match="not well-formed"):
        safexml.parse_bounded(b"<a><b></a>", "the file", max_bytes=1 << 20, max_depth=8)
    assert gc.isenabled()
    with pytest.raises(InvalidInput, match="DOCTYPE"):
        cin_tables.read_cin_tables(b'<!DOCTYPE x [<!ENTITY e "e">]><Message/>')
    assert gc.isenabled()


def test_a_block_that_found_the_collector_off_leaves_it_off() -> None:
    gc.disable()
    with collector_off():
        assert not gc.isenabled()
    assert not gc.isenabled()
    gc.enable()
    with pytest.raises(RuntimeError), collector_off():
        raise RuntimeError("the block failed")
    assert gc.isenabled()


def test_blocks_in_two_threads_end_with_the_collector_on() -> None:
    entered, release = threading.Barrier(2, timeout=10), threading.Event()

    def block() -> None:
        with collector_off():
            entered.wait()
            assert release.wait(timeout=10)

    threads = [threading.Thread(target=block) for _ in range(2)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert gc.isenabled()
