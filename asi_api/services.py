"""What every app's services share."""

from typing import Any

# "Not given" in partial updates: `None` is a real value for some fields (clearing them), so
# `*_update(..., field=UNSET)` leaves a field alone. One sentinel for the whole project, so a
# service may pass its own arguments on to another's unchanged.
UNSET: Any = object()
