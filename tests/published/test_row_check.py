"""A publisher's CSV seen plainly regular line by line is one the record-by-record check accepts, and a damaged one
is refused with the same words whichever way it is first looked at."""

from __future__ import annotations

import pytest

from collectors.published import read
from collectors.published.read import MAX_FIELD, PublishedFormatError
from collectors.published.sources import load_sources

SPEC = load_sources().sources["dfe_care_leavers_accommodation"]
TEXT = SPEC.bundled.read_text(encoding="utf-8-sig")
LINES = TEXT.split("\n")
#: A line of the file holding a quoted field (an area name with a comma in it), and one holding none.
QUOTED = next(n for n, line in enumerate(LINES) if '"' in line and n > 0)
PLAIN = next(n for n, line in enumerate(LINES) if '"' not in line and n > 0)


def _with(n: int, line: str) -> str:
    return "\n".join([*LINES[:n], line, *LINES[n + 1 :]])


DAMAGED = {
    "as published": TEXT,
    "windows line ends": TEXT.replace("\n", "\r\n"),
    "a lone carriage return": _with(PLAIN, LINES[PLAIN].replace(",", "\r", 1)),
    "cut off mid-row": TEXT[: len(TEXT) // 2],
    "a stray comma": _with(PLAIN, LINES[PLAIN] + ","),
    "a field missing": _with(PLAIN, LINES[PLAIN].rsplit(",", 1)[0]),
    "a quoted field left open": _with(QUOTED, LINES[QUOTED].replace('"', "", 1)),
    "a quote opened mid-line across lines": _with(PLAIN, LINES[PLAIN].replace(",", ',"', 1)) + "\n" + '",x',
    "a quote inside a field": _with(QUOTED, LINES[QUOTED].replace('"', 'x"', 1)),
    "a NUL": _with(PLAIN, LINES[PLAIN] + "\x00"),
    "an overlong field": _with(PLAIN, LINES[PLAIN] + "x" * (MAX_FIELD + 1)),
    "an overlong quoted field": _with(QUOTED, LINES[QUOTED].replace('"', '"' + "x" * MAX_FIELD, 1)),
    "a header renamed": _with(0, LINES[0].replace("time_period", "period")),
    "blank lines": TEXT.replace("\n", "\n\n", 3),
    "empty": "",
}


def _refusal(check: str, text: str) -> str | None:
    try:
        if check == "record by record":
            _record_by_record(text)
        else:
            read._check_rows(SPEC, text)
    except PublishedFormatError as exc:
        return exc.message
    return None


def _record_by_record(text: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(read, "_plainly_regular", lambda *_: False)
        read._check_rows(SPEC, text)


@pytest.mark.parametrize("damage", DAMAGED)
def test_the_line_by_line_look_accepts_only_what_the_record_by_record_check_accepts(damage: str) -> None:
    text = DAMAGED[damage]
    if read._plainly_regular(SPEC, text):
        assert _refusal("record by record", text) is None
    assert _refusal("as checked", text) == _refusal("record by record", text)


def test_the_bundled_file_and_a_damaged_one_are_told_apart() -> None:
    """The look line by line takes the file as published, and leaves each kind of damage to the full check."""
    assert read._plainly_regular(SPEC, TEXT)
    assert read._plainly_regular(SPEC, DAMAGED["windows line ends"])
    refused = [d for d, text in DAMAGED.items() if _refusal("as checked", text) is not None]
    assert {"cut off mid-row", "a stray comma", "a field missing", "an overlong field", "empty"} <= set(refused)
