"""The project's JSON parser (`DEFAULT_PARSER_CLASSES`): `asi_api.jsontext.json_parse` for DRF.

Every refusal is a 400 that says what and where; a body over the size limit is a 413.
"""

import codecs
from typing import Any

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError

from asi_api.jsontext import JsonRefused, json_parse, json_path


def refusal_detail(refusal: JsonRefused) -> dict[str, list[str]] | str:
    """The error detail of a refusal of a request body.

    A fault inside a top-level member is reported on that member, like a field error, with the
    path inside it: `{"json": ["$.laps[0]: null characters (\\u0000) are not allowed in
    strings."]}` (relative to the member, as the activities' schema errors are). Anything else
    is a `detail`: "JSON parse error - ...".
    """
    path = refusal.path
    if path and isinstance(path[0], str) and not (len(path) == 1 and refusal.in_key):
        message = refusal.message
        inner = path[1:]
        text = f"{json_path(inner)}: {message}" if inner else message[0].upper() + message[1:]
        return {path[0]: [text]}
    where = f"{json_path(path)}: " if path else ""
    return f"JSON parse error - {where}{refusal.message}"


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


def body_limit_for(path: str) -> int:
    """SPEC §1: 5 MiB on the ingestion endpoint, 2 MiB everywhere else."""
    if path == settings.INGEST_PATH:
        return settings.INGEST_BODY_LIMIT_BYTES
    return settings.BODY_LIMIT_BYTES


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser on `json_parse` (the `DEFAULT_PARSER_CLASSES` of the project)."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parser_context = parser_context or {}
        request = parser_context.get("request")
        limit = body_limit_for(request.path) if request is not None else settings.BODY_LIMIT_BYTES
        # BodySizeLimitMiddleware has checked Content-Length (DRF parses no body without one);
        # reading at most limit + 1 bytes keeps the parser bounded whoever calls it.
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge(f"Request body too large: the limit is {limit} bytes.")
        charset = parser_context.get("encoding") or settings.DEFAULT_CHARSET
        try:
            # Text codecs only: a bytes-to-bytes codec (`bz2_codec`) would inflate the body
            # after its size was checked, and `str.encode` refuses those.
            "".encode(charset)
            text = raw if codecs.lookup(charset).name == "utf-8" else raw.decode(charset)
        except (LookupError, UnicodeError) as error:
            raise ParseError(f"JSON parse error - charset {charset!r}: {error}") from None
        try:
            return json_parse(text)
        except JsonRefused as refusal:
            raise ParseError(refusal_detail(refusal)) from None
