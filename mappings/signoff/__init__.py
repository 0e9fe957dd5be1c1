"""Sign-off's states and tables, below the builds: nothing reaches a regulator until the body that owns it has vouched
for it. The acts, the review and the lists, which read a build of the return, sit above the build (``exports.signoff``).

- ``states``: the states, what each means, the rows and their history (``signoff`` and ``signoff_event``).
- ``figures``: the figures vouched for, the digest of them, and what changed since a digest was read.
- ``rules``: what stands in the way of signing off (errors in the latest upload, open queries).
- ``reopen``: a revised figure reopens the sign-offs that vouched for it, read from what the store's writer displaced.
- ``lineage``: which of a build's figures an agency must sign off, and the store's key what builds found is kept
  under.
- ``standing``: where one agency stands at a deadline, as the calendar and its notices ask.
- ``schemas``: the public shapes the API and the pages give.
"""

from mappings.signoff.figures import Figure, digest_of, value_text
from mappings.signoff.reopen import reopen_for_upload
from mappings.signoff.rules import blockers, periods_with_figures
from mappings.signoff.states import (
    ACCEPTED,
    MEANINGS,
    OPEN,
    REOPENED,
    RETURNED,
    SIGNABLE,
    SIGNED_OFF,
    STATES,
    Actor,
    canonical_period,
    find,
    history,
    list_signoffs,
    published_sources,
    releasing_states,
    state_of,
)

__all__ = [
    "ACCEPTED",
    "MEANINGS",
    "OPEN",
    "REOPENED",
    "RETURNED",
    "SIGNABLE",
    "SIGNED_OFF",
    "STATES",
    "Actor",
    "Figure",
    "blockers",
    "canonical_period",
    "digest_of",
    "find",
    "history",
    "list_signoffs",
    "periods_with_figures",
    "published_sources",
    "releasing_states",
    "reopen_for_upload",
    "state_of",
    "value_text",
]
