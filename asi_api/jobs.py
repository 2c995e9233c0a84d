from oauth2_provider.models import clear_expired

from asi_api.scheduling import periodic


@periodic(every_seconds=3600)
def oauth_tokens_clear_expired() -> None:
    """Delete expired access/refresh tokens and grants (DOT's own cleanup), hourly."""
    clear_expired()
