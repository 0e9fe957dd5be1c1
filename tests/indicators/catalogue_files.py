"""A small catalogue written as files, for the tests of `onereturn catalogue check` and of catalogue rules."""

from __future__ import annotations

from pathlib import Path

CODELISTS = """\
[codelist.body_type]
title = "Body type"
sources = [{ ref = "test_doc", section = "table 1" }]
codes = { local_authority = "Local authority", ons = "Office for National Statistics" }

[codelist.sex]
title = "Sex"
sources = [{ ref = "test_doc", section = "table 1" }]
codes = { F = "Female", M = "Male" }
"""

INDICATORS = """\
[file]
provenance = "Test catalogue."

[[indicator]]
id = "t.leavers_eet_n"
title = "Care leavers in education, employment or training"
plain_title = "Care leavers in work or learning"
definition = "Number of care leavers aged 19-21 in education, employment or training."
statistic = "count"
unit = "young people"
polarity = "higher_is_better"
period_type = "financial_year"
time_basis = "snapshot"
breakdowns = ["sex"]
aggregation = "sum"
purpose = "outcome"
method = "test.a"
source_body = "local_authority"
sources = [{ ref = "test_doc", section = "table 1" }]
polarity_source = { ref = "test_doc", section = "table 1, polarity" }

[[indicator]]
id = "t.leavers"
title = "Care leavers aged 19-21"
plain_title = "Care leavers"
definition = "Number of care leavers aged 19-21 the council is in touch with."
statistic = "count"
unit = "young people"
polarity = "no_judgement"
period_type = "financial_year"
time_basis = "snapshot"
breakdowns = ["sex"]
aggregation = "sum"
purpose = "context"
method = "test.a"
source_body = "local_authority"
sources = [{ ref = "test_doc", section = "table 1" }]

[[indicator]]
id = "t.leavers_eet"
title = "Percentage of care leavers in education, employment or training"
plain_title = "Share of care leavers in work or learning"
definition = "Care leavers aged 19-21 in EET as a percentage of all care leavers aged 19-21."
statistic = "percentage"
numerator = "t.leavers_eet_n"
denominator = "t.leavers"
multiplier = 100
unit = "%"
polarity = "no_judgement"
period_type = "financial_year"
time_basis = "snapshot"
aggregation = "ratio_of_sums"
purpose = "outcome"
method = "test.a"
source_body = "local_authority"
formula = "100 * t.leavers_eet_n / t.leavers"
sources = [{ ref = "test_doc", section = "table 1" }]
"""

RETURN = """\
[return]
id = "test_return"
title = "Test return"
recipient = "Committee"
submitter = "local_authority"
geography_level = "upper_tier_la"
period_type = "financial_year"
deadline = "working_days_after_period_end:20"
sources = [{ ref = "test_doc", section = "table 1" }]
deadline_sources = [{ ref = "test_doc", section = "dates" }]

[[field]]
code = "1"
label = "Care leavers in EET"
indicator = "t.leavers_eet"
relation = "identical"
sources = [{ ref = "test_doc", section = "table 1" }]

[[field]]
code = "2"
label = "Care leavers in EET (female)"
indicator = "t.leavers_eet_n"
breakdown = "sex=F"
sources = [{ ref = "test_doc", section = "table 1" }]
"""

REGISTER = """\
[source.own_reading]
publisher = "onereturn"
title = "Own reading"
year = "2026"
own_reading = true

[source.test_doc]
publisher = "Department for Testing"
title = "A published guide"
year = "2024"
url = "https://example.org/guide"
"""


def write(
    tmp_path: Path,
    indicators: str = INDICATORS,
    ret: str = RETURN,
    codelists: str = CODELISTS,
    register: str = REGISTER,
) -> tuple[Path, Path]:
    """Write a small catalogue (these texts, or others given) into ``tmp_path``; return its two folders."""
    ind_dir, ret_dir = tmp_path / "indicators", tmp_path / "returns"
    ind_dir.mkdir()
    ret_dir.mkdir()
    (ind_dir / "codelists.toml").write_text(codelists)
    (ind_dir / "sources.toml").write_text(register)
    (ind_dir / "test.toml").write_text(indicators)
    (ret_dir / "test_return.toml").write_text(ret)
    return ind_dir, ret_dir


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The line number of the ``occurrence``-th line of ``text`` that holds ``needle``."""
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return lines[occurrence - 1]
