"""SPEC §2 URLs. Only the flows the API offers are exposed (no device flow, no OIDC)."""

from django.urls import path

from users import oauth

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", oauth.AuthorizationView.as_view(), name="authorize"),
    path("token/", oauth.TokenView.as_view(), name="token"),
    # DOT names it revoke_token/; the API's documented URL is revoke-token/.
    path("revoke-token/", oauth.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth.IntrospectTokenView.as_view(), name="introspect"),
    path(
        "authorized-tokens/",
        oauth.AuthorizedApplicationsView.as_view(),
        name="authorized-token-list",
    ),
    path(
        "authorized-tokens/<int:pk>/delete/",
        oauth.AuthorizedApplicationRevokeView.as_view(),
        name="authorized-token-delete",
    ),
]
