"""lxml's options for XML the service does not trust, declared once for every reader of it (``etree.XMLParser`` and
``etree.iterparse`` alike): no entity resolved, no DTD loaded, nothing fetched over the network, and libxml2's own
bounds on a tree kept (``huge_tree`` off)."""

from __future__ import annotations

from typing import Final

HARDENED: Final = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}
