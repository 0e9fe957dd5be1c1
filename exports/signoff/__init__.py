"""Sign-off in one room, above the figures it vouches for: its schemas and its queries.

The states and their rules (``mappings.signoffs``) sit low, beside the tables; the release gate and the review
of what signing off releases (``exports.release``) need builds. Here are what the API and the pages both show:
the sign-off's public schemas (``schemas``) and who is behind, what is in the way and the counts (``queries``).
"""
