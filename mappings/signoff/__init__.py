"""Sign-off: nothing reaches a regulator until the body that owns it has vouched for it. All of it lives here.

- ``states``: the states, what each means, the rows and their history (``signoff`` and ``signoff_event``).
- ``figures``: the figures vouched for, the digest of them, and what changed since a digest was read.
- ``rules``: what stands in the way of signing off (errors in the latest upload, open queries).
- ``acts``: the acts, one name each: ``sign_off``, ``withdraw``, ``accept``, ``send_back`` (and ``sign_off_all``).
- ``reopen``: a revised figure reopens the sign-offs that vouched for it.
- ``behind``: whose figures are behind a return's cells, and where a return stands across its agencies.
- ``standing``: where one agency stands at a deadline, as the calendar and its notices ask.
- ``reviewing``: what signing off would release (``review``); ``queries``: the lists and the officer's queue;
  ``schemas``: the public shapes the API and the pages give.
- ``builds``: the shape of the build of a return it reads, passed to each function that reads one by its caller
  (the release gate's ungated build, ``exports.release.build_ungated``); nothing is handed over at import.
"""

from mappings.signoff.acts import accept, send_back, sign_off, sign_off_all, withdraw
from mappings.signoff.behind import Standing, agencies_behind, standings, vouched
from mappings.signoff.figures import Figure, digest_of, value_text
from mappings.signoff.reopen import reopen_for
from mappings.signoff.reviewing import review
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
    "Standing",
    "accept",
    "agencies_behind",
    "blockers",
    "canonical_period",
    "digest_of",
    "find",
    "history",
    "list_signoffs",
    "periods_with_figures",
    "published_sources",
    "releasing_states",
    "reopen_for",
    "review",
    "send_back",
    "sign_off",
    "sign_off_all",
    "standings",
    "state_of",
    "value_text",
    "vouched",
    "withdraw",
]
