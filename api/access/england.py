"""Who reads England's and the regions' rows of DfE's record-level returns, and which councils' rows beside them.

The officer and the return's own regulator (DfE's key: a regulator key whose recipient the return is addressed to)
read every council's rows, as DfE's release gives them. A council's key reads England's and the regions' rows,
which are sums no council's children can be told apart in, and its own council's rows only: another council's rows
are that council's until DfE publishes them. Any other key is refused as the return itself would be (404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from api.auth import FUNCTION, require
from api.principal import Principal
from api.return_files import visible_return
from mappings.illustrative import councils_of

#: England's rows: the officer, a regulator key (refused unless the return is addressed to it) and a council's key
#: (England's and the regions' rows, and its own).
EnglandRead = Annotated[Principal, Depends(require(set(), {"officer", "agency", "regulator"}), scope=FUNCTION)]


def council_rows_shown(session: Session, principal: Principal, return_id: str) -> frozenset[str] | None:
    """The councils (ONS codes) whose rows the key reads beside England's: None for every council's."""
    if principal.kind == "agency":
        return frozenset(council.org for council in councils_of(session, principal.agency_code or ""))
    visible_return(session, principal, return_id)
    return None
