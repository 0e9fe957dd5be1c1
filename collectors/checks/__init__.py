"""The checks every way's figures face: the checks themselves (``figures``), what they found (``checked``), a way's
policy and what the checks read (``policy``, ``context``), the catalogue's rules across figures (``crosscheck``),
cells typed (``typed``, ``values``) and blank rows (``blanks``)."""

from collectors.checks.figures import Checked, check_figures, in_file_terms

__all__ = ["Checked", "check_figures", "in_file_terms"]
