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
