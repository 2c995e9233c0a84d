"""The one domain error type that services raise; `asi_api.exceptions` turns it into a response.

Services never import DRF: they raise these, and the exception handler maps each to the status
and body shape SPEC §1 fixes (`{"detail": ...}` or `{"field": [...]}`).
"""

from datetime import UTC, datetime


def api_datetime(value: datetime) -> str:
    """A datetime as the API writes it (UTC, `Z`), for error messages naming a window."""
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


class DomainError(Exception):
    """Bad input (400). With `field`, the body is `{field: [message]}`, else `{"detail": ...}`."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_body(self) -> dict:
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message}


class RuleViolation(DomainError):
    """Authenticated, object visible, but a permission or ownership rule forbids it (403)."""

    status_code = 403


class NotFound(DomainError):
    """Unknown object, or one the caller may not see (404: existence is not leaked)."""

    status_code = 404


class Conflict(DomainError):
    """The state of the object forbids it (409), e.g. a device already owned."""

    status_code = 409
