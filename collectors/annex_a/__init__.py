"""Ofsted's Annex A, built for a council and an inspection date from its kept record-level uploads (the CIN census
and the SSDA903), the rows its SSD extract gave, and the columns it keys: ``build`` assembles the lists,
``in_need`` and ``looked_after`` derive Lists 3 to 7 and 8 to 10, ``from_ssd`` Lists 1 and 2 and the columns
only the SSD holds, ``columns`` the council's own columns file, ``workbook`` the workbook Ofsted asks for. The
layout (lists, columns, codes) is data, in ``mappings/annex_a``.
"""
