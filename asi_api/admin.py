"""What the apps' Django admins share: they write through the services (STYLE.md §3)."""

from django import forms
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from asi_api.errors import DomainError


class DeletesThroughService:
    """ModelAdmin mixin for admins whose `delete_model` calls the app's service: the changelist's
    "delete selected" action then deletes row by row through it too, instead of Django's one
    `queryset.delete()`, which would skip the service's rules and domain events."""

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        raise NotImplementedError  # each admin calls its service


def form_error_add(form: forms.Form, error: DomainError) -> None:
    """Show a service's rejection on an admin form: on its field when the form has that field,
    above the form otherwise; every message of an error that lists several (`JsonInvalid`)."""
    field = error.field if error.field in form.fields else None
    for message in getattr(error, "messages", [error.message]):
        form.add_error(field, message)
