"""The code lists DfE's own rules accept, year by year, as a script run by the interpreter of ``.venv-validators``.

Each rule below checks one coded item against a list written in the rule's own code (``code_list = [...]``); the
script takes the rule each year's rule set runs (the year's registry: earlier years' rules, this year's changes)
and reads that list from its source, so a rule changed in a later year gives that year's list. It prints JSON:
``{"cin": {"2024-25": {"4180": ["M", "F", "U"], ...}}, "903": {...}}``. Used by ``test_annex_a_codes.py``.

    .venv-validators/bin/python tests/collectors/records/dfe_code_lists.py
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import sys
import textwrap

#: (rule code, the names the rule gives its list of valid codes), per library.
RULES: dict[str, dict[str, tuple[str, ...]]] = {
    "cin": {
        "4180": ("valid_gender_codes", "valid_sex_codes"),  # GenderCurrent, then Sex
        "4220": ("eth_list",),  # Ethnicity
        "8540": ("valid_dis",),  # Disability
        "8640": ("valid_reason",),  # ReasonForClosure
        "8650": ("PriNeed_list",),  # PrimaryNeedCode
        "8866": ("valid_referrals",),  # ReferralSource
        "8905": ("abuse_cats",),  # InitialCategoryOfAbuse
        "8910": ("abuse_cats",),  # LatestCategoryOfAbuse
    },
    "903": {
        "101": ("code_list",),  # Header.SEX
        "103": ("code_list",),  # Header.ETHNIC
        "120": ("code_list",),  # PlacedAdoption.REASON_PLACED_CEASED
        "131": ("code_list",),  # OC3.IN_TOUCH
        "132": ("code_list",),  # OC3.ACTIV
        "133": ("valid_codes",),  # OC3.ACCOM
        "144": ("code_list",),  # Episodes.LS
        "145": ("code_list",),  # Episodes.CIN
        "146": ("code_list",),  # Episodes.PLACE
        "149": ("code_list",),  # Episodes.REC
        "178": ("code_list_placement_provider",),  # Episodes.PLACE_PROVIDER
    },
}
YEARS = ("2022_23", "2023_24", "2024_25", "2025_26", "2026_27")
PACKAGES = {"cin": "cin_validator.rules.cin", "903": "lac_validator.rules.lac"}


def listed(func: object, names: tuple[str, ...]) -> list[str]:
    """The strings of the first list the rule's function assigns to one of ``names``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))  # type: ignore[arg-type]
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.List):
            continue
        if any(isinstance(t, ast.Name) and t.id in names for t in node.targets):
            return [str(e.value) for e in node.value.elts if isinstance(e, ast.Constant)]
    raise LookupError(f"no list named {' or '.join(names)} in {getattr(func, '__module__', func)}")


def main() -> int:
    """Print every year's code lists as JSON."""
    found: dict[str, dict[str, dict[str, list[str]]]] = {}
    for library, rules in RULES.items():
        for year in YEARS:
            registry = importlib.import_module(f"{PACKAGES[library]}{year}").registry
            found.setdefault(library, {})[year.replace("_", "-")] = {
                code: listed(registry[code].func, names) for code, names in rules.items()
            }
    json.dump(found, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
