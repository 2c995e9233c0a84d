from django import forms
from django.contrib import admin
from django.http import HttpRequest

from asi_api.admin import DeletesThroughService, form_error_add
from asi_api.errors import DomainError
from timeframes import services
from timeframes.models import Timeframe

FIELDS = [
    "activity",
    "athlete",
    "device",
    "owner",
    "start_time",
    "end_time",
    "json_schema",
    "params",
]


class TimeframeAdminForm(forms.ModelForm):
    """Every rule of SPEC §5 is checked by `services.timeframe_check` and shown on the form."""

    class Meta:
        model = Timeframe
        fields = FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["json_schema"].required = False
        self.fields[
            "json_schema"
        ].help_text = "Empty: the latest shipped 'timeframe-analytics-params' schema."
        self.fields["params"].required = False

    def clean(self) -> dict:
        data = super().clean()
        if {"activity", "athlete", "device", "owner", "start_time", "end_time"} <= data.keys():
            try:
                services.timeframe_check(
                    actor=self.actor,
                    timeframe=self.instance if self.instance.pk else None,
                    start_time=data["start_time"],
                    end_time=data["end_time"],
                    device=data["device"],
                    activity=data["activity"],
                    athlete=data["athlete"],
                    params=data.get("params"),
                    json_schema=data.get("json_schema"),
                    owner=data["owner"],
                )
            except DomainError as error:
                form_error_add(self, error)
        return data


@admin.register(Timeframe)
class TimeframeAdmin(DeletesThroughService, admin.ModelAdmin):
    form = TimeframeAdminForm
    list_display = ["id", *(name for name in FIELDS if name != "params")]
    list_filter = ["start_time", "json_schema"]
    search_fields = [
        "activity__name",
        "athlete__username",
        "athlete__athlete_profile__first_name",
        "athlete__athlete_profile__last_name",
        "owner__username",
        "device__device_name",
        "device__serial_number",
    ]
    list_select_related = ["activity", "athlete", "device", "owner", "json_schema"]
    raw_id_fields = ["activity", "athlete", "device", "owner", "json_schema"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "start_time"
    ordering = ["-start_time"]

    def get_form(self, request: HttpRequest, obj: Timeframe | None = None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.actor = request.user  # the rules depend on who acts (an admin names the owner)
        return form

    def save_model(self, request: HttpRequest, obj: Timeframe, form, change: bool) -> None:
        # Through the services, so the rules hold and the domain events fire.
        fields = {name: form.cleaned_data.get(name) for name in FIELDS}
        fields["params"] = fields["params"] or {}
        if change:
            if fields["json_schema"] is None:
                del fields["json_schema"]
            services.timeframe_update(actor=request.user, timeframe=obj, **fields)
        else:
            obj.pk = services.timeframe_create(actor=request.user, **fields).pk

    def delete_model(self, request: HttpRequest, obj: Timeframe) -> None:
        services.timeframe_delete(actor=request.user, timeframe=obj)
