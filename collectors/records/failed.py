"""What a record-level upload that failed says: what broke, never a value of the records, and what to run."""

from __future__ import annotations

from collectors.records.privacy import SealedElsewhere
from collectors.spine import failure_reason
from onereturn.keptfiles import KeptFileMissing


def failed_message(exc: BaseException, submission_id: int) -> str:
    """What a failed upload's report says: what broke (never a value of the records) and what to run."""
    if isinstance(exc, KeptFileMissing):
        return (
            f"processing could not read the files: {exc.message}; run it again once they can be read (onereturn db "
            f"keep-files on the host that holds them, then onereturn submissions reprocess {submission_id})"
        )
    if isinstance(exc, SealedElsewhere):
        # The council's files are sound: the host that read them holds keys that do not open what the store keeps.
        return (
            "the kept files are sealed under records keys this host does not hold; the files are kept: give the host "
            "the deployment's keys file (onereturn records rotate-keys re-seals any file left under retired keys), "
            f"then run onereturn submissions reprocess {submission_id}, or send the same files again"
        )
    return (
        f"processing failed: {failure_reason(exc, quote=False)}; the files are kept and can be run again "
        f"(onereturn submissions reprocess {submission_id})"
    )
