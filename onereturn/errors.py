"""The one exception family of the product: each error carries a message and an HTTP status."""

from __future__ import annotations

from typing import Any


class OneReturnError(Exception):
    """Base of every domain error; the API and CLI render it without a traceback."""

    status_code = 400
    error_type = "error"

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class ConfigurationError(OneReturnError):
    """A setting or environment variable is wrong."""

    status_code = 500
    error_type = "configuration_error"


class NotFound(OneReturnError):
    """The thing asked for does not exist (or is not the caller's to see)."""

    status_code = 404
    error_type = "not_found"


class Unauthorized(OneReturnError):
    """No valid credentials were given."""

    status_code = 401
    error_type = "unauthorized"


class Forbidden(OneReturnError):
    """The caller may not do this."""

    status_code = 403
    error_type = "forbidden"


class Conflict(OneReturnError):
    """The request clashes with what is stored."""

    status_code = 409
    error_type = "conflict"


class InvalidInput(OneReturnError):
    """The request or file is not acceptable as given."""

    status_code = 422
    error_type = "invalid_input"


class CatalogueError(OneReturnError):
    """The catalogue files are broken; ``errors`` lists each problem with file and line."""

    status_code = 500
    error_type = "catalogue_error"


class PayloadTooLarge(OneReturnError):
    """An upload is larger than the configured limit (bytes or rows)."""

    status_code = 413
    error_type = "payload_too_large"


class ServiceBusy(OneReturnError):
    """Every slot for this kind of work is taken for now; the client should try again after ``retry_after`` seconds."""

    status_code = 503
    error_type = "service_busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnsupportedFile(OneReturnError):
    """An upload is not a CSV, XLSX or JSON file we accept (or is unsafe, e.g. has macros)."""

    status_code = 415
    error_type = "unsupported_file"


class TooManyRequests(OneReturnError):
    """Too many failed attempts from one client; ``retry_after`` says how many seconds to wait."""

    status_code = 429
    error_type = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        #: Set when an earlier refusal of the same hold was already recorded.
        self.audited = False


class ProcessingFailed(OneReturnError):
    """An upload was received and kept but could not be processed; it is marked failed with the reason.

    Answered 503, not 500: nothing of it was stored, the file is kept, and it passes when run again (its message names
    the command) or sent again once the fault is gone."""

    status_code = 503
    error_type = "processing_failed"
