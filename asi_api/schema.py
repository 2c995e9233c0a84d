"""The OpenAPI document's error responses, for every operation, in one place.

drf-spectacular documents what each view returns on success; the errors come from the plumbing
every view shares (authentication, scopes, throttling, filters, paging, the parser and the body
limit, the exception handler), so they are added here from what the operation is, never per
view. Shapes are SPEC §1's: `{"detail": "..."}` for non-field errors and `{"field": ["msg"]}`
for validation errors.
"""

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent

WRITE_METHODS = ("POST", "PUT", "PATCH")

DETAIL = {
    "type": "object",
    "description": "A non-field error.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION = {
    "type": "object",
    "description": (
        'Validation errors by field (`{"field": ["message", ...]}`, nested for nested objects, '
        'e.g. `{"athlete_profile": {"gender": ["..."]}}`), or `{"detail": "..."}`.'
    ),
    "additionalProperties": {
        "anyOf": [{"type": "array", "items": {}}, {"type": "object"}, {"type": "string"}]
    },
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before the next request.",
        "schema": {"type": "integer"},
    }
}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "The authentication scheme to use (`Bearer`).",
        "schema": {"type": "string"},
    }
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses each operation can give.

    | status | when | documented on |
    |---|---|---|
    | 400 | malformed body, query parameter, filter, ordering or page size | writes, and operations with query parameters |
    | 401 | no, invalid or expired credentials | every operation |
    | 403 | authenticated but not allowed (role, rule, or a token without the scope) | every operation |
    | 404 | unknown or invisible object, or a page out of range | operations with path parameters, paginated lists |
    | 409 | the object's state forbids the change | writes |
    | 413 | body over the size limit (from `Content-Length`) | writes |
    | 415 | body not JSON | writes |
    | 429 | throttled, with `Retry-After` | every operation |

    405 (a method the path does not have) belongs to no operation: OpenAPI has no place for it.
    Responses a view documents itself are kept as they are.
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for status, response in self._error_responses(operation).items():
            responses.setdefault(status, response)
        return operation

    def _error_responses(self, operation: dict) -> dict[str, dict]:
        parameters = operation.get("parameters", [])
        has_query = any(parameter["in"] == "query" for parameter in parameters)
        has_path = any(parameter["in"] == "path" for parameter in parameters)
        writes = self.method in WRITE_METHODS
        paginated = self._is_list_view() and self._get_paginator() is not None

        detail = self._component("Error", DETAIL)
        validation = self._component("ValidationError", VALIDATION)
        errors: dict[str, dict] = {}
        if writes or has_query:
            errors["400"] = _response("Bad input: the body or a query parameter.", validation)
        errors["401"] = _response(
            "No credentials, or invalid or expired ones.", detail, WWW_AUTHENTICATE
        )
        errors["403"] = _response(
            "Authenticated but not allowed: role, rule, or a token without the scope.", detail
        )
        if has_path or paginated:
            errors["404"] = _response(
                "Unknown object, one the caller may not see, or a page out of range.", detail
            )
        if writes:
            errors["409"] = _response("The object's current state forbids this change.", detail)
            errors["413"] = _response("Request body too large.", detail)
            errors["415"] = _response("Request body is not JSON.", detail)
        errors["429"] = _response("Too many requests.", detail, RETRY_AFTER)
        return errors

    def _component(self, name: str, schema: dict) -> dict:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        self.registry.register_on_missing(component)
        return component.ref


def _response(description: str, schema: dict, headers: dict | None = None) -> dict:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    return response
