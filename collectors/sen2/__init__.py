"""DfE's SEN2 person-level survey (DfE 189-00): a council's XML checked at the door and kept as its other children's
records are (``collectors.records``: the same keys, pseudonyms, retention and purge)."""
