"""Test-only URL conf: the project's URLs plus a stand-in for the ingestion endpoint.

The real ingestion endpoint belongs to the devices app; the OAuth tests only need *an* endpoint
that demands the `ingest` scope, declared exactly as the real one will be.
"""

from django.urls import path
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from asi_api.permissions import TokenHasRequiredScopes
from asi_api.urls import urlpatterns as project_urlpatterns


class HasAccessToken(BasePermission):
    # A gateway's client-credentials token has no user: "authenticated" means "has a token".
    def has_permission(self, request, view) -> bool:
        return request.auth is not None


class IngestOnlyView(APIView):
    required_scopes = ["ingest"]
    permission_classes = [TokenHasRequiredScopes, HasAccessToken]

    def post(self, request):
        return Response({"ingested": True})


urlpatterns = [
    path("api/v1/test-ingest/", IngestOnlyView.as_view(), name="test-ingest"),
    *project_urlpatterns,
]
