import functools
import logging
from datetime import UTC, datetime

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from asi_api.errors import DomainError, NotFound, RuleViolation, api_datetime
from asi_api.pagination import PageNumberPagination
from asi_api.permissions import IsAdmin, IsManager, IsManagerOrAdmin
from asi_api.throttles import IngestRateThrottle
from devices import services
from devices.filters import DeviceFilter, OwnershipFilter
from devices.ingestion import packets_ingest
from devices.models import Device, DeviceOwnership
from devices.packets import packets_build
from devices.samples import (
    frame_table,
    samples_latest,
    samples_ranges,
    samples_read,
    samples_timestamps,
    table_csv_lines,
)
from devices.selectors import (
    device_current_ownership,
    device_owned_during,
    devices_visible_to,
    ownerships_visible_to,
)
from devices.serializers import (
    CustomNameSerializer,
    DeviceCreateSerializer,
    DeviceOwnershipSerializer,
    DeviceProofSerializer,
    DeviceSerializer,
    IngestCountsSerializer,
    PacketSerializer,
    PacketsSerializer,
    PreprocessedPageSerializer,
    RecordingRangesPageSerializer,
)

logger = logging.getLogger(__name__)


@extend_schema_view(
    list=extend_schema(
        description=(
            "Admins: every device. Managers: devices they own now or owned before "
            "(`current=true`: only now), plus a device nobody owns when both its exact "
            "`serial_number` and `device_name` are given."
        ),
        parameters=[
            OpenApiParameter("activity", OpenApiTypes.INT, description="Activity id"),
            OpenApiParameter("current", OpenApiTypes.BOOL),
        ],
    ),
)
@extend_schema(tags=["devices"])
class DeviceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, GenericViewSet
):
    """Devices and their ownership actions (SPEC §4)."""

    required_scopes = ["all"]
    queryset = Device.objects.none()  # the model, for the schema; rows come from get_queryset
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilter
    search_fields = ["device_name", "serial_number", "custom_name"]
    ordering_fields = ["id", "device_name", "serial_number", "custom_name", "created_at"]
    ordering = ["id"]
    lookup_value_regex = r"\d+"

    def get_permissions(self) -> list:
        # Ownership actions are for managers only; reads for managers and admins (athletes 403).
        role = {
            "create": IsAdmin,
            "take_ownership": IsManager,
            "release_ownership": IsManager,
            "set_custom_name": IsManager,
        }.get(self.action, IsManagerOrAdmin)
        return [*super().get_permissions(), role()]

    def get_queryset(self) -> QuerySet[Device]:
        params = self.request.query_params
        return devices_visible_to(
            self.request.user,
            serial_number=params.get("serial_number"),
            device_name=params.get("device_name"),
        )

    def _any_device(self) -> Device:
        # Taking and releasing address devices the caller may not see yet (an unowned device, or
        # one he lost): SPEC §4 fixes their answers (400/409/403/404) in the services.
        device = Device.objects.filter(pk=self.kwargs["pk"]).first()
        if device is None:
            raise NotFound("No device matches the given query.")
        return device

    @extend_schema(request=DeviceCreateSerializer, responses={201: DeviceSerializer})
    def create(self, request: Request) -> Response:
        data = DeviceCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_create(**data.validated_data)
        return Response(DeviceSerializer(device).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DeviceProofSerializer, responses={201: DeviceOwnershipSerializer})
    @action(detail=True, methods=["post"], url_path="take-ownership")
    def take_ownership(self, request: Request, pk: str) -> Response:
        device = self._any_device()
        proof = DeviceProofSerializer(data=request.data)
        proof.is_valid(raise_exception=True)
        ownership = services.ownership_take(
            manager=request.user, device=device, **proof.validated_data
        )
        return Response(DeviceOwnershipSerializer(ownership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: DeviceOwnershipSerializer})
    @action(detail=True, methods=["post"], url_path="release-ownership")
    def release_ownership(self, request: Request, pk: str) -> Response:
        ownership = services.ownership_release(manager=request.user, device=self._any_device())
        return Response(DeviceOwnershipSerializer(ownership).data)

    @extend_schema(request=CustomNameSerializer, responses={200: DeviceSerializer})
    @action(detail=True, methods=["post"], url_path="set-custom-name")
    def set_custom_name(self, request: Request, pk: str) -> Response:
        device = self.get_object()
        data = CustomNameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_set_custom_name(
            manager=request.user, device=device, **data.validated_data
        )
        return Response(DeviceSerializer(device).data)


@extend_schema(
    tags=["devices"],
    parameters=[OpenApiParameter("current", OpenApiTypes.BOOL)],
)
class DeviceOwnershipViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Ownership periods: a manager's own, or all for admins (SPEC §4)."""

    required_scopes = ["all"]
    permission_classes = [*GenericViewSet.permission_classes, IsManagerOrAdmin]
    queryset = DeviceOwnership.objects.none()  # the model, for the schema
    serializer_class = DeviceOwnershipSerializer
    filterset_class = OwnershipFilter
    search_fields = ["device__device_name", "device__serial_number", "device__custom_name"]
    ordering_fields = ["id", "start_time", "end_time"]
    ordering = ["-start_time", "-id"]
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[DeviceOwnership]:
        return ownerships_visible_to(self.request.user).select_related("device")


# --- HTML: the device activation page (SPEC §4) -------------------------------------------------


class ActivationForm(forms.Form):
    serial_number = forms.CharField(max_length=64, strip=True)
    device_name = forms.CharField(max_length=12, strip=True)


@login_required
def device_activation(request: HttpRequest) -> HttpResponse:
    """Form with serial number and device name → take ownership → status page.

    The device is looked up by serial number; a wrong device name then fails the same proof
    check as the API's take-ownership, so both paths answer alike.
    """
    if not request.user.is_manager:
        context = {"form": None, "role_error": "Only managers can activate devices."}
        return render(request, "devices/activation.html", context, status=403)
    form = ActivationForm(request.POST if request.method == "POST" else None)
    if request.method != "POST" or not form.is_valid():
        status_code = 400 if request.method == "POST" else 200
        return render(request, "devices/activation.html", {"form": form}, status=status_code)

    serial_number = form.cleaned_data["serial_number"]
    device = Device.objects.filter(serial_number=serial_number).first()
    context: dict = {"serial_number": serial_number, "device": device}
    try:
        if device is None:
            raise NotFound("No device has this serial number.", field="serial_number")
        context["ownership"] = services.ownership_take(
            manager=request.user, device=device, **form.cleaned_data
        )
    except DomainError as error:
        context["error"] = error
        return render(request, "devices/activation_status.html", context, status=error.status_code)
    return render(request, "devices/activation_status.html", context)


# --- device data (SPEC §6): ingestion and preprocessed reads ------------------------------------

DAY_MS = 86_400_000
PREPROCESSED_MAX_SPAN_MS = 2 * DAY_MS
RANGES_MAX_SPAN_MS = 14 * DAY_MS
PREPROCESSED_LIMIT = 10_000


class IngestThrottle(IngestRateThrottle):
    """The ingestion rate limit per gateway application: O(1) per request, failing open.

    DRF's throttles keep a list of every request time in the window and rewrite it on each
    request: at the ingestion rate (30000/min) that list is the size of the limit, unpickled and
    pickled again per request. This one counts per fixed window and weighs the previous window's
    count by how much of it still overlaps the sliding window (Cloudflare's approximation):
    two counters, one Redis round trip per request. Its cache is one client per process, not
    Django's per-request handle (a new Redis connection for every request under ASGI).

    Failing open: with the cache (Redis) down, gateways go on. Samples are committed to
    PostgreSQL alone; a Redis outage must not stop them (the stream and the analytics catch up
    from the database).
    """

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        try:
            return self._allow(key)
        except Exception:
            logger.warning("ingest throttle skipped: cache unavailable", exc_info=True)
            return True

    def _allow(self, key: str) -> bool:
        cache = _ingest_throttle_cache()
        now = self.timer()
        window, into = divmod(now, self.duration)
        current, previous = f"{key}:{int(window)}", f"{key}:{int(window) - 1}"
        if isinstance(cache, RedisCache):
            # One round trip: count this request, read the previous window. A refused request
            # counts too, so a gateway that ignores Retry-After stays refused.
            current, previous = (cache.make_and_validate_key(k) for k in (current, previous))
            pipe = cache._cache.get_client(current, write=True).pipeline(transaction=False)
            pipe.incr(current).expire(current, 2 * self.duration).get(previous)
            done, _, before = pipe.execute()
            before = int(before or 0)
        else:  # embedded mode's in-process cache
            counts = cache.get_many([current, previous])
            done, before = counts.get(current, 0) + 1, counts.get(previous, 0)
            if not cache.add(current, 1, timeout=2 * self.duration):
                cache.incr(current)
        if before * (1 - into / self.duration) + done > self.num_requests:
            self.wait_seconds = self._wait(done, before, into)
            return False
        return True

    def _wait(self, done: int, before: int, into: float) -> float:
        """Seconds until one more request fits (`done` counts the refused one)."""
        limit, duration = self.num_requests, self.duration
        room = limit - done - 1
        if room >= 0 and before:
            # Within this window, as the previous one's share shrinks.
            return max(0.0, (1 - room / before) * duration - into)
        # In the next window, as this one's count (then the previous) is weighed down.
        return duration - into + duration * max(0.0, 1 - (limit - 1) / done)

    def wait(self) -> float | None:
        return getattr(self, "wait_seconds", None)


@functools.cache
def _ingest_throttle_cache():
    return caches.create_connection("default")


class HasOAuthToken(BasePermission):
    """The request carries an OAuth2 access token (gateways have no user, only a token)."""

    def has_permission(self, request, view) -> bool:
        return request.auth is not None


@extend_schema(
    tags=["device data"],
    request=PacketsSerializer,
    responses={201: IngestCountsSerializer},
    description=(
        "A gateway's packets (token scope `ingest`): validated whole, stored in one transaction, "
        "idempotent per sample. See docs/ingestion.md."
    ),
)
class PreprocessedDataIngestView(APIView):
    """`POST /api/v1/preprocessed-data/` — a gateway's packets (SPEC §6), token scope `ingest`."""

    required_scopes = ["ingest"]
    permission_classes = [*APIView.permission_classes[:1], HasOAuthToken]
    throttle_classes = [IngestThrottle]

    def post(self, request: Request) -> Response:
        result = packets_ingest(body=request.data)
        body = {
            "packets": result.packets,
            "samples": result.samples,
            "duplicates": result.duplicates,
        }
        return Response(body, status=status.HTTP_201_CREATED)


def _instant_ms(params, name: str) -> int:
    """A `start`/`stop` query parameter: epoch milliseconds or an ISO 8601 datetime (UTC if naive)."""
    raw = params.get(name)
    if raw is None or raw == "":
        raise DomainError("Required: an ISO 8601 datetime or epoch milliseconds.", field=name)
    if raw.lstrip("-").isdigit():
        return int(raw)
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        hint = " (a + in a URL means a space: write it %2B)" if " " in raw else ""
        raise DomainError(f"Not an ISO 8601 datetime or epoch milliseconds{hint}.", field=name)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def _ms_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class DeviceDataView(APIView):
    """Common ground of the read endpoints: the device the caller sees, and the access rule."""

    required_scopes = ["all"]
    permission_classes = [*APIView.permission_classes, IsManagerOrAdmin]

    def device(self, pk: int) -> Device:
        device = devices_visible_to(self.request.user).filter(pk=pk).first()
        if device is None:
            raise NotFound("No device matches the given query.")
        return device

    def interval(self, device: Device, max_span_ms: int) -> tuple[int, int]:
        """`start`/`stop` checked, and owned by the caller over the whole of it (SPEC §6)."""
        params = self.request.query_params
        start, stop = _instant_ms(params, "start"), _instant_ms(params, "stop")
        if stop <= start:
            raise DomainError("stop must be after start.", field="stop")
        if stop - start > max_span_ms:
            raise DomainError(
                f"The interval may span at most {max_span_ms // DAY_MS} days.", field="stop"
            )
        user = self.request.user
        if not user.is_admin and not device_owned_during(
            manager=user, device_id=device.pk, start=_ms_datetime(start), end=_ms_datetime(stop)
        ):
            raise RuleViolation(
                "You did not own this device during the whole interval "
                f"[{api_datetime(_ms_datetime(start))}, {api_datetime(_ms_datetime(stop))})."
            )
        return start, stop


@extend_schema(
    tags=["device data"],
    parameters=[
        OpenApiParameter("start", OpenApiTypes.STR, required=True),
        OpenApiParameter("stop", OpenApiTypes.STR, required=True),
        OpenApiParameter("limit", OpenApiTypes.INT, description="rows per page (≤ 10000)"),
        OpenApiParameter("page", OpenApiTypes.INT, description="1-based; costlier deep down"),
        OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"]),
    ],
    responses={
        200: OpenApiResponse(
            PreprocessedPageSerializer,
            description="With `format=csv`: the rows as text/csv, `X-Next-Start` header.",
        )
    },
)
class DevicePreprocessedView(DeviceDataView):
    """Samples in [start, stop) (≤ 2 days) as flat rows by timestamp; keyset paging by `next_start`."""

    def perform_content_negotiation(self, request, force=False):
        # `?format=csv` is answered here, streamed; errors stay JSON whatever the format.
        if request.query_params.get("format") == "csv":
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    def get(self, request: Request, pk: int) -> Response | StreamingHttpResponse:
        device = self.device(pk)
        start, stop = self.interval(device, PREPROCESSED_MAX_SPAN_MS)
        limit, page = self.limit(), self.page()
        csv_wanted = request.query_params.get("format") == "csv"
        count = None
        page_start = start
        if not csv_wanted or page > 1:
            # `count` (SPEC §1) and page numbers need the window's distinct timestamps: one
            # aggregate query. Keyset paging by `next_start` does not (CSV skips it).
            stamps_all = samples_timestamps(device_id=device.pk, start=start, stop=stop)
            count = len(stamps_all)
            if page > 1:
                if (page - 1) * limit >= count:
                    raise NotFound("Invalid page.")
                page_start = int(stamps_all[(page - 1) * limit])
        frame = samples_read(device_id=device.pk, start=page_start, stop=stop, limit=limit)
        stamps, columns = frame_table(frame)
        if csv_wanted:
            response = StreamingHttpResponse(
                table_csv_lines(stamps, columns), content_type="text/csv"
            )
            response["Content-Disposition"] = f'attachment; filename="{device.device_name}.csv"'
            if frame.next_start is not None:
                response["X-Next-Start"] = str(frame.next_start)
            return response
        rows = []
        for i, stamp in enumerate(stamps):
            row = {"timestamp": stamp}
            for name, values in columns:
                if values[i] is not None:
                    row[name] = values[i]
            rows.append(row)
        body = {
            "count": count,
            "page": page,
            "next": page + 1 if frame.next_start is not None else None,
            "previous": page - 1 if page > 1 else None,
            "next_start": frame.next_start,
            "results": rows,
        }
        return Response(body)

    def limit(self) -> int:
        raw = self.request.query_params.get("limit")
        if raw is None:
            return PREPROCESSED_LIMIT
        if not raw.isdigit() or int(raw) < 1:
            raise DomainError("A positive integer is required.", field="limit")
        return min(int(raw), PREPROCESSED_LIMIT)

    def page(self) -> int:
        # Like the other lists (DRF's paginator): a page that is not a positive number is a 404.
        raw = self.request.query_params.get("page", "1")
        if not raw.isdigit() or int(raw) < 1:
            raise NotFound("Invalid page.")
        return int(raw)


@extend_schema(
    tags=["device data"],
    parameters=[
        OpenApiParameter("start", OpenApiTypes.STR, required=True),
        OpenApiParameter("stop", OpenApiTypes.STR, required=True),
        OpenApiParameter("page", OpenApiTypes.INT),
        OpenApiParameter("limit", OpenApiTypes.INT),
    ],
    responses={200: RecordingRangesPageSerializer},
)
class DevicePreprocessedRangesView(DeviceDataView):
    """Contiguous recording periods in [start, stop) (≤ 14 days); a gap over 60 s splits."""

    def get(self, request: Request, pk: int) -> Response:
        device = self.device(pk)
        start, stop = self.interval(device, RANGES_MAX_SPAN_MS)
        ranges = [
            # `stop` is exclusive, like every window: the last sample + 1 ms.
            {"start": api_datetime(_ms_datetime(a)), "stop": api_datetime(_ms_datetime(b + 1))}
            for a, b in samples_ranges(device_id=device.pk, start=start, stop=stop)
        ]
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(ranges, request, view=self)
        return paginator.get_paginated_response(page)


@extend_schema(tags=["device data"], responses={200: PacketSerializer})
class DeviceLatestPreprocessedView(DeviceDataView):
    """The newest packet of the device (packet shape); its current owner (and admins) only."""

    def get(self, request: Request, pk: int) -> Response:
        device = self.device(pk)
        since = None
        if not request.user.is_admin:
            ownership = device_current_ownership(device_id=device.pk)
            if ownership is None or ownership.manager_id != request.user.pk:
                raise RuleViolation("Only the device's current owner may read its latest data.")
            # The current owner sees nothing recorded before his period began.
            since = int(ownership.start_time.timestamp() * 1000)
        frame = samples_latest(device_id=device.pk, since=since)
        if not frame.channels:
            raise NotFound("No data for this device.")
        return Response(packets_build(device.device_name, frame.channels)[-1])
