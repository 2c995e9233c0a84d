from django import forms
from django.contrib import admin
from django.http import HttpRequest

from activities import services
from activities.models import Activity, JsonSchema
from asi_api.admin import DeletesThroughService, form_error_add
from asi_api.errors import DomainError


class JsonSchemaAddForm(forms.ModelForm):
    class Meta:
        model = JsonSchema
        fields = ["name", "type", "parent", "schema"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        self.fields["type"].required = False
        self.fields["name"].help_text = "Leave empty for a new version: it keeps its parent's name."

    def clean(self) -> dict:
        data = super().clean()
        if "schema" in data:
            try:
                services.json_schema_plan(
                    schema=data["schema"],
                    name=data.get("name") or None,
                    type=data.get("type") or None,
                    parent=data.get("parent"),
                )
            except DomainError as error:
                form_error_add(self, error)
        return data


@admin.register(JsonSchema)
class JsonSchemaAdmin(admin.ModelAdmin):
    """Schemas are immutable: the add form creates a row (through the service), after which
    every field is read-only; a change is a new row naming the previous version as parent.
    """

    list_display = ["name", "version", "type", "parent", "created_at"]
    list_filter = ["type", "name"]
    search_fields = ["name"]
    ordering = ["name", "version"]
    raw_id_fields = ["parent"]
    list_select_related = ["parent"]
    readonly = ["name", "type", "version", "parent", "schema", "created_at"]

    def get_form(self, request: HttpRequest, obj: JsonSchema | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = JsonSchemaAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: JsonSchema | None = None) -> list:
        return self.readonly if obj is not None else JsonSchemaAddForm.Meta.fields

    def get_readonly_fields(self, request: HttpRequest, obj: JsonSchema | None = None) -> list:
        return self.readonly if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: JsonSchema | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: JsonSchema, form, change: bool) -> None:
        if change:
            return  # read-only rows: nothing to save
        created = services.json_schema_create(
            actor=request.user,
            schema=obj.schema,
            name=obj.name or None,
            type=obj.type or None,
            parent=obj.parent,
        )
        obj.pk, obj.version, obj.created_at = created.pk, created.version, created.created_at


class ActivityAdminForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["name", "owner", "json_schema", "json"]

    def clean(self) -> dict:
        data = super().clean()
        if {"owner", "json_schema", "json"} <= data.keys():
            try:
                services.activity_check(
                    actor=self.actor,
                    json=data["json"],
                    json_schema=data["json_schema"],
                    owner=data["owner"],
                )
            except DomainError as error:
                form_error_add(self, error)
        return data


@admin.register(Activity)
class ActivityAdmin(DeletesThroughService, admin.ModelAdmin):
    form = ActivityAdminForm
    list_display = ["id", "name", "owner", "json_schema", "created_at", "updated_at"]
    list_filter = ["json_schema", "created_at"]
    search_fields = ["name", "owner__username", "owner__email"]
    list_select_related = ["owner", "json_schema"]
    raw_id_fields = ["owner", "json_schema"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"

    def get_form(self, request: HttpRequest, obj: Activity | None = None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.actor = request.user  # the rules depend on who acts (an admin names any manager)
        return form

    def save_model(self, request: HttpRequest, obj: Activity, form, change: bool) -> None:
        # Through the services, so the rules hold and the domain events fire.
        fields = {
            "name": obj.name,
            "json": obj.json,
            "json_schema": obj.json_schema,
            "owner": obj.owner,
        }
        if change:
            services.activity_update(actor=request.user, activity=obj, **fields)
        else:
            obj.pk = services.activity_create(actor=request.user, **fields).pk

    def delete_model(self, request: HttpRequest, obj: Activity) -> None:
        services.activity_delete(actor=request.user, activity=obj)
