from drf_spectacular.utils import extend_schema
from rest_framework.generics import RetrieveAPIView

from users.serializers import AccountSerializer


@extend_schema(tags=["account"])
class AccountView(RetrieveAPIView):
    """`GET /api/v1/account/`: the caller's own user."""

    required_scopes = ["all"]
    serializer_class = AccountSerializer

    def get_object(self):
        return self.request.user
