from rest_framework import throttling


class AnonRateThrottle(throttling.AnonRateThrottle):
    """Per client IP for unauthenticated calls (default 60/min, `THROTTLE_ANON`).

    The address is DRF's `get_ident`: `REMOTE_ADDR`, or with `NUM_PROXIES` = n > 0 the n-th
    address from the right of `X-Forwarded-For` (the one the outermost trusted proxy appended),
    never what the client wrote there itself. Other per-address limits should call `get_ident`
    too, so that every limit counts the same address.

    A client-credentials token has no user but is not anonymous: `UserRateThrottle` counts it.
    """

    def get_cache_key(self, request, view):
        if request.auth is not None:
            return None
        return super().get_cache_key(request, view)


class UserRateThrottle(throttling.UserRateThrottle):
    """Per user for authenticated calls (default 3000/min, `THROTTLE_USER`).

    Client-credentials tokens (gateways) have no user: they are throttled per application.
    """

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        elif request.auth is not None and getattr(request.auth, "application_id", None):
            ident = f"app:{request.auth.application_id}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class IngestRateThrottle(UserRateThrottle):
    """Per gateway token on the ingestion endpoint (default 30000/min, `THROTTLE_INGEST`)."""

    scope = "ingest"
