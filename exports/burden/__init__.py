"""The burden saved: what agencies would key into each return, counted cell by cell, and its answer."""
