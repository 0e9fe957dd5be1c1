"""An officer's upload of GIAS's register (its extract and links file), for ``POST /api/establishments`` and the
officer's page: each file read no further than the register's limit, then loaded as the command line loads it."""

from __future__ import annotations

from fastapi import Request, UploadFile

from api.principal import Principal
from mappings.establishments.service import Held, load_register
from onereturn.errors import InvalidInput, PayloadTooLarge

#: The paths that take the register, whose bodies may be as large as ONERETURN_ESTABLISHMENTS_MAX_BYTES.
REGISTER_UPLOADS = ("/api/establishments", "/officer/establishments")


def _read(file: UploadFile, limit: int) -> bytes:
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            f"{file.filename or 'The file'} is over the register's limit of {limit:,} bytes "
            "(ONERETURN_ESTABLISHMENTS_MAX_BYTES); nothing was stored"
        )
    return data


def load_uploaded(request: Request, principal: Principal, file: UploadFile, links: UploadFile | None) -> Held:
    """Load the uploaded register (a refusal stores nothing and leaves the register held as it was)."""
    settings = request.app.state.settings
    limit = settings.establishments_max_bytes
    if not file.filename:
        raise InvalidInput("Choose GIAS's extract (edubasealldataYYYYMMDD.csv) to load")
    data = _read(file, limit)
    extra = _read(links, limit) if links is not None and links.filename else None
    return load_register(
        request.app.state.engine,
        settings,
        data,
        file.filename,
        links=extra,
        links_name=(links.filename or "") if extra is not None and links is not None else "",
        by=principal.name,
    )
