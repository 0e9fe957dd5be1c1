"""A library's error about a file is said by its kind and position, never by its own text, which can quote a value."""

from __future__ import annotations

import io
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from collectors.records.contract import RecordsError
from collectors.records.inputs import which_return
from onereturn.listing import error_kind

NAME = "ZORBALINDA"


def test_an_xml_error_is_its_kind_and_position() -> None:
    with pytest.raises(etree.XMLSyntaxError) as lxml_error:
        etree.fromstring(f"<Message><Child>&{NAME};</Child></Message>".encode())
    assert NAME in str(lxml_error.value)  # lxml's own text quotes the file
    said = error_kind(lxml_error.value)
    assert said.startswith("it is not well-formed XML (line 1, column ")
    assert NAME not in said
    with pytest.raises(ET.ParseError) as stdlib_error:
        ET.fromstring("<Message><Child></Message>")
    assert error_kind(stdlib_error.value) == "it is not well-formed XML (line 1, column 18)"


def test_archive_and_unknown_errors_quote_nothing() -> None:
    with pytest.raises(zipfile.BadZipFile) as bad_zip:
        zipfile.ZipFile(io.BytesIO(f"{NAME} 2012-05-14".encode()))
    assert error_kind(bad_zip.value) == "the archive is damaged or not a ZIP"
    with pytest.raises(tarfile.TarError) as bad_tar, tarfile.open(fileobj=io.BytesIO(NAME.encode() * 200)):
        pass
    assert error_kind(bad_tar.value) == "the archive is damaged or not of its kind"
    assert error_kind(RuntimeError(NAME)) == "a part cannot be read"


def test_a_records_xml_refusal_names_the_position_not_the_value(tmp_path: Path) -> None:
    path = tmp_path / "cin.xml"
    path.write_text(f"<Message &{NAME};><Child/></Message>")
    with pytest.raises(RecordsError) as refused:
        which_return([("cin.xml", path)])
    assert NAME not in str(refused.value)
    assert "(it is not well-formed XML (line 1, column " in str(refused.value)
