"""REST endpoints of SPEC §3: account, registration, athletes, managers, permission grants.

Views validate the request's shape, call a service, and serialize. Who sees what comes from
`users.selectors`; an object outside the caller's queryset is a 404.
"""

from typing import Any

import django_filters
from django.contrib.auth import update_session_auth_hash
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.viewsets import GenericViewSet

from asi_api.errors import NotFound
from asi_api.filters import BooleanFilter, IdFilter
from asi_api.permissions import IsManager, TokenHasRequiredScopes
from users import selectors, services
from users.models import AthletePermission, Gender, PermissionKind, Role, User
from users.serializers import (
    AccountSerializer,
    AdminUpdateSerializer,
    AthleteRegistrationSerializer,
    AthleteSerializer,
    AthleteUpdateSerializer,
    ManagedAthleteCreateSerializer,
    ManagerPublicSerializer,
    ManagerRegistrationSerializer,
    ManagerSerializer,
    ManagerUpdateSerializer,
    PasswordChangeSerializer,
    PermissionCreateSerializer,
    PermissionSerializer,
    PermissionUpdateSerializer,
)


def _update_kwargs(data: dict[str, Any], profile_key: str) -> dict[str, Any]:
    """Validated PATCH data → keyword arguments of `services.user_update`."""
    kwargs = {k: data[k] for k in ("username", "email", "external_id") if k in data}
    if profile_key in data:
        kwargs["profile"] = dict(data[profile_key])
    return kwargs


# --- account --------------------------------------------------------------------------------


@extend_schema(tags=["account"])
class AccountView(GenericAPIView):
    """`GET/PATCH/DELETE /api/v1/account/`: the caller's own user, with `role` and
    `extra_permissions`. PATCH changes account and profile fields; DELETE removes the account
    and what goes with it (SPEC §3)."""

    required_scopes = ["all"]
    serializer_class = AccountSerializer

    def get_update_serializer_class(self) -> type[Serializer]:
        user = self.request.user
        if user.is_manager:
            return ManagerUpdateSerializer
        if user.is_athlete:
            return AthleteUpdateSerializer
        return AdminUpdateSerializer

    def get(self, request: Request) -> Response:
        return Response(AccountSerializer(request.user).data)

    @extend_schema(request=AthleteUpdateSerializer, responses=AccountSerializer)
    def patch(self, request: Request) -> Response:
        serializer = self.get_update_serializer_class()(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        profile_key = "athlete_profile" if request.user.is_athlete else "manager_profile"
        user = services.user_update(
            actor=request.user,
            user=request.user,
            **_update_kwargs(serializer.validated_data, profile_key),
        )
        return Response(AccountSerializer(user).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request) -> Response:
        services.account_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["account"], request=PasswordChangeSerializer, responses={204: None})
class PasswordChangeView(GenericAPIView):
    """`POST /api/v1/account/change-password/` `{"old_password", "new_password"}` → 204."""

    required_scopes = ["all"]
    serializer_class = PasswordChangeSerializer

    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.password_change(user=request.user, **serializer.validated_data)
        # A browser session survives its own password change; the user's other sessions end.
        if isinstance(request.successful_authenticator, SessionAuthentication):
            update_session_auth_hash(request._request, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- athletes -------------------------------------------------------------------------------


class AthleteFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(lookup_expr="icontains")
    username = django_filters.CharFilter(lookup_expr="icontains")
    external_id = django_filters.CharFilter(lookup_expr="icontains")
    first_name = django_filters.CharFilter(
        field_name="athlete_profile__first_name", lookup_expr="icontains"
    )
    last_name = django_filters.CharFilter(
        field_name="athlete_profile__last_name", lookup_expr="icontains"
    )
    gender = django_filters.ChoiceFilter(
        field_name="athlete_profile__gender", choices=Gender.choices
    )
    managed_by = IdFilter(field_name="athlete_profile__managed_by")
    is_managed = BooleanFilter(method="filter_is_managed")
    birthdate_from = django_filters.DateFilter(
        field_name="athlete_profile__birth_date", lookup_expr="gte"
    )
    birthdate_to = django_filters.DateFilter(
        field_name="athlete_profile__birth_date", lookup_expr="lte"
    )

    class Meta:
        model = User
        fields: list[str] = []

    def filter_is_managed(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset.filter(athlete_profile__managed_by__isnull=not value)


@extend_schema(tags=["athletes"])
class AthleteViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    GenericViewSet,
):
    """Athletes (SPEC §3): open registration, the list and detail the caller may see, changes
    by the athlete (or his managing manager, or an admin), and managed-athlete creation."""

    required_scopes = ["all"]
    serializer_class = AthleteSerializer
    lookup_value_regex = "[0-9]+"
    filterset_class = AthleteFilter
    search_fields = [
        "external_id",
        "username",
        "email",
        "athlete_profile__first_name",
        "athlete_profile__last_name",
    ]
    ordering_fields = ["username", "email", "external_id"]
    ordering_aliases = {
        "first_name": "athlete_profile__first_name",
        "last_name": "athlete_profile__last_name",
        "gender": "athlete_profile__gender",
        "birthdate": "athlete_profile__birth_date",
        "managed_by": "athlete_profile__managed_by",
    }
    ordering = ["username"]

    def get_permissions(self):
        if self.action == "create":
            # Open registration: anonymous callers, or any caller with an `all` token.
            return [TokenHasRequiredScopes(), AllowAny()]
        if self.action == "create_managed":
            return [TokenHasRequiredScopes(), IsManager()]
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[User]:
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no real caller
            return User.objects.none()
        return selectors.athletes_visible_to(self.request.user)

    @extend_schema(request=AthleteRegistrationSerializer, responses={201: AthleteSerializer})
    def create(self, request: Request) -> Response:
        # Same steps as ManagerViewSet.create (boilerplate): the shapes differ, the rules are
        # the one `services.user_register`.
        serializer = AthleteRegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        athlete = services.user_register(
            role=Role.ATHLETE,
            username=data["username"],
            email=data["email"],
            password=data.get("password"),
            external_id=data["external_id"],
            profile=dict(data.get("athlete_profile") or {}),
        )
        return Response(AthleteSerializer(athlete).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AthleteUpdateSerializer, responses=AthleteSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        athlete = self.get_object()
        services.user_writable_check(actor=request.user, user=athlete)
        serializer = AthleteUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        athlete = services.user_update(
            actor=request.user,
            user=athlete,
            **_update_kwargs(serializer.validated_data, "athlete_profile"),
        )
        return Response(AthleteSerializer(athlete).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, pk: str) -> Response:
        services.user_delete(actor=request.user, user=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ManagedAthleteCreateSerializer, responses={201: AthleteSerializer})
    @action(detail=False, methods=["post"], url_path="create-managed")
    def create_managed(self, request: Request) -> Response:
        serializer = ManagedAthleteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        athlete = services.athlete_create_managed(
            manager=request.user,
            username=data["username"],
            external_id=data["external_id"],
            profile=dict(data.get("athlete_profile") or {}),
        )
        return Response(AthleteSerializer(athlete).data, status=status.HTTP_201_CREATED)


# --- managers -------------------------------------------------------------------------------


class ManagerFilter(django_filters.FilterSet):
    # `username` is an exact lookup open to everyone: see ManagerViewSet.get_queryset.
    email = django_filters.CharFilter(lookup_expr="icontains")
    external_id = django_filters.CharFilter(lookup_expr="icontains")
    first_name = django_filters.CharFilter(
        field_name="manager_profile__first_name", lookup_expr="icontains"
    )
    last_name = django_filters.CharFilter(
        field_name="manager_profile__last_name", lookup_expr="icontains"
    )

    class Meta:
        model = User
        fields: list[str] = []


@extend_schema(
    tags=["managers"],
    parameters=[
        OpenApiParameter(
            "username",
            str,
            description="Exact username: finds any manager (id, username and names only).",
        )
    ],
)
class ManagerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    GenericViewSet,
):
    """Managers (SPEC §3): open registration; admins see all, a manager himself, an athlete the
    managers he granted anything to; anyone authenticated may look one up by exact username."""

    required_scopes = ["all"]
    serializer_class = ManagerSerializer
    lookup_value_regex = "[0-9]+"
    filterset_class = ManagerFilter
    search_fields = [
        "username",
        "external_id",
        "email",
        "manager_profile__first_name",
        "manager_profile__last_name",
    ]
    ordering_fields = ["username", "email", "external_id"]
    ordering_aliases = {
        "first_name": "manager_profile__first_name",
        "last_name": "manager_profile__last_name",
    }
    ordering = ["username"]

    def get_permissions(self):
        if self.action == "create":
            return [TokenHasRequiredScopes(), AllowAny()]
        return super().get_permissions()

    def _username_lookup(self) -> str | None:
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no real caller
            return None
        if self.action != "list" or self.request.user.is_admin:
            return None
        return self.request.query_params.get("username")

    def get_queryset(self) -> QuerySet[User]:
        if getattr(self, "swagger_fake_view", False):
            return User.objects.none()
        username = self._username_lookup()
        if username is not None:
            return selectors.managers_by_username(username)
        queryset = selectors.managers_visible_to(self.request.user)
        if self.action == "list" and "username" in self.request.query_params:
            queryset = queryset.filter(username=self.request.query_params["username"])
        return queryset

    def get_serializer_class(self) -> type[Serializer]:
        if self._username_lookup() is not None:
            return ManagerPublicSerializer
        return ManagerSerializer

    def filter_queryset(self, queryset: QuerySet[User]) -> QuerySet[User]:
        # The public lookup shows no e-mail: searching or filtering on it would leak it.
        if self._username_lookup() is not None:
            return queryset.order_by("pk")
        return super().filter_queryset(queryset)

    @extend_schema(request=ManagerRegistrationSerializer, responses={201: ManagerSerializer})
    def create(self, request: Request) -> Response:
        serializer = ManagerRegistrationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        manager = services.user_register(
            role=Role.MANAGER,
            username=data["username"],
            email=data["email"],
            password=data.get("password"),
            external_id=data["external_id"],
            profile=dict(data.get("manager_profile") or {}),
        )
        return Response(ManagerSerializer(manager).data, status=status.HTTP_201_CREATED)


# --- grants ---------------------------------------------------------------------------------


class PermissionFilter(django_filters.FilterSet):
    athlete = IdFilter()
    manager = IdFilter()
    permission = django_filters.ChoiceFilter(choices=PermissionKind.choices)
    active = BooleanFilter(method="filter_active")

    class Meta:
        model = AthletePermission
        fields: list[str] = []

    def filter_active(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        active = selectors.permissions_active_q()
        return queryset.filter(active) if value else queryset.filter(~Q(active))


@extend_schema(tags=["permissions"])
class PermissionViewSet(mixins.ListModelMixin, GenericViewSet):
    """`GET /api/v1/permissions/`: every grant the caller is party to."""

    required_scopes = ["all"]
    serializer_class = PermissionSerializer
    filterset_class = PermissionFilter
    ordering_fields = ["start_time", "expiration_time", "permission", "id"]
    ordering = ["start_time", "id"]

    def get_queryset(self) -> QuerySet[AthletePermission]:
        if getattr(self, "swagger_fake_view", False):
            return AthletePermission.objects.none()
        return selectors.permissions_visible_to(self.request.user)


@extend_schema(tags=["permissions"])
class AthleteManagerPermissionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet
):
    """`/api/v1/athletes/{athlete}/managers/{manager}/permissions/[{id}/]`: that pair's grants.

    POST by the athlete, an admin, or (READ only, inside his window) a manager holding SHARE;
    PATCH changes a grant's window; DELETE removes it (SPEC §3).
    """

    required_scopes = ["all"]
    serializer_class = PermissionSerializer
    lookup_value_regex = "[0-9]+"
    filterset_class = PermissionFilter
    ordering_fields = ["start_time", "expiration_time", "permission", "id"]
    ordering = ["start_time", "id"]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        athlete_id, manager_id = kwargs["athlete_id"], kwargs["manager_id"]
        athlete = selectors.athletes_grantable_by(request.user).filter(pk=athlete_id).first()
        if athlete is None:
            raise NotFound(f"No athlete with id {athlete_id}.")
        manager = User.objects.managers().filter(pk=manager_id).first()
        if manager is None:
            raise NotFound(f"No manager with id {manager_id}.")
        self.athlete, self.manager = athlete, manager

    def get_queryset(self) -> QuerySet[AthletePermission]:
        if getattr(self, "swagger_fake_view", False):
            return AthletePermission.objects.none()
        return selectors.permissions_visible_to(self.request.user).filter(
            athlete=self.athlete, manager=self.manager
        )

    @extend_schema(request=PermissionCreateSerializer, responses={201: PermissionSerializer})
    def create(self, request: Request, **kwargs: Any) -> Response:
        serializer = PermissionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grant = services.permission_create(
            actor=request.user,
            athlete=self.athlete,
            manager=self.manager,
            **serializer.validated_data,
        )
        return Response(PermissionSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PermissionUpdateSerializer, responses=PermissionSerializer)
    def partial_update(self, request: Request, **kwargs: Any) -> Response:
        grant = self.get_object()
        services.permission_writable_check(actor=request.user, grant=grant)
        serializer = PermissionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grant = services.permission_update(
            actor=request.user, grant=grant, **serializer.validated_data
        )
        return Response(PermissionSerializer(grant).data)

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, **kwargs: Any) -> Response:
        services.permission_delete(actor=request.user, grant=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
