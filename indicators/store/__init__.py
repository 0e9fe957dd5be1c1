"""The figure store: every upload as a submission, every figure as versions with provenance, a figure's key and
numbers named once (``models``, ``figures``)."""
