"""A council's Standard Safeguarding Dataset extract: read and checked against the SSD's own schema, then made into
the CIN census and SSDA903 files that go through the record-level path (``docs/records.md``)."""
