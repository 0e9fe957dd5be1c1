"""The acts of sign-off and what they read, above the build of a return: each reads the ungated build
(``exports.release.build_ungated``) itself, so no caller hands a build over. The states and tables are below
(``mappings.signoff``).

- ``acts``: the acts, one name each: ``sign_off``, ``withdraw``, ``accept``, ``send_back`` (and ``sign_off_all``).
- ``behind``: whose figures are behind a return's cells, and where a return stands across its agencies.
- ``reviewing``: what signing off would release (``review``); ``queries``: the lists and the officer's queue.
"""

from exports.signoff.acts import accept, send_back, sign_off, sign_off_all, withdraw
from exports.signoff.behind import Standing, agencies_behind, standings, vouched
from exports.signoff.reviewing import review

__all__ = [
    "Standing",
    "accept",
    "agencies_behind",
    "review",
    "send_back",
    "sign_off",
    "sign_off_all",
    "standings",
    "vouched",
    "withdraw",
]
