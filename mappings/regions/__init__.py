"""A region's hub: a region is an agency (``body_type`` ``region``) whose org units are its member councils, reading
their records pooled only with each council's consent, use case by use case.

``use_cases.toml`` holds each use case as data (its tables, what is kept, degraded or dropped of each column, and
for how long, read by ``policy.py``); ``models.py`` the consent a council gives; ``consent.py`` who is a member,
and the consent given, changed and withdrawn. The pooled tables are built in ``collectors/regions/``.
"""
