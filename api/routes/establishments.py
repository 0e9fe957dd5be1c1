"""The register of establishments (GIAS): which register is held and when GIAS published it, and an officer's upload
of GIAS's extract (with its links file), checked whole before the register held is replaced.

``GET /api/establishments`` says the register held to any key (it names schools, never a child);
``POST /api/establishments`` is the officer's, as ``onereturn establishments load`` is the operator's.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Request, UploadFile
from pydantic import BaseModel

from api.auth import FUNCTION, OfficerOnly, require
from api.callrecord import annotate
from api.principal import Principal
from api.register_upload import load_uploaded
from mappings.establishments.service import Held, register_held

router = APIRouter(prefix="/api", tags=["establishments"])
AnyKey = Annotated[Principal, Depends(require(set()), scope=FUNCTION)]


class HeldPublic(BaseModel):
    """The register of establishments held."""

    held: bool
    published: str | None = None
    loaded_at: str | None = None
    file_name: str | None = None
    establishments: int = 0
    links_file_name: str | None = None
    links: int = 0
    loaded_by: str | None = None
    said: str

    @classmethod
    def of(cls, held: Held | None) -> HeldPublic:
        """The answer for the register held, or for none."""
        if held is None:
            return cls(held=False, said="No register of establishments is loaded")
        return cls(
            held=True,
            published=held.published.isoformat() if held.published else None,
            loaded_at=held.loaded_at,
            file_name=held.file_name,
            establishments=held.establishments,
            links_file_name=held.links_file_name or None,
            links=held.links,
            loaded_by=held.loaded_by,
            said=held.words(),
        )


_KEYED: dict[int | str, dict[str, Any]] = {401: {"description": "No key, or a key not known or revoked"}}


@router.get("/establishments", summary="The register of establishments held", responses=_KEYED)
def establishments_held(request: Request, _principal: AnyKey) -> HeldPublic:
    """Which register of establishments is held: when GIAS published it, when and by whom it was loaded."""
    return HeldPublic.of(register_held(request.app.state.engine))


@router.post(
    "/establishments",
    summary="Load GIAS's register of establishments (officer)",
    status_code=201,
    responses={
        **_KEYED,
        403: {"description": "Not an officer's key"},
        413: {"description": "Over ONERETURN_ESTABLISHMENTS_MAX_BYTES"},
        422: {"description": "Not GIAS's layout, a URN twice, a type code not on GIAS's list, empty or cut short"},
    },
)
async def load_establishments(
    request: Request,
    principal: OfficerOnly,
    file: Annotated[UploadFile, File(description="GIAS's all-establishments extract, edubasealldataYYYYMMDD.csv")],
    links: Annotated[
        UploadFile | None, File(description="GIAS's links file, links_edubasealldataYYYYMMDD.csv (optional)")
    ] = None,
) -> HeldPublic:
    """Check GIAS's extract (and links file) whole and replace the register held; a refusal leaves it as it was."""
    held = await anyio.to_thread.run_sync(lambda: load_uploaded(request, principal, file, links))
    annotate(request, object=f"register of establishments {held.file_name}", detail=held.words())
    return HeldPublic.of(held)
