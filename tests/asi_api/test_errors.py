from datetime import UTC, datetime, timedelta, timezone

from asi_api.errors import Conflict, DomainError, NotFound, RuleViolation, api_datetime


def test_it_writes_datetimes_in_messages_as_the_api_does():
    paris = timezone(timedelta(hours=1))
    assert api_datetime(datetime(2023, 3, 12, 13, 0, tzinfo=paris)) == "2023-03-12T12:00:00Z"
    assert api_datetime(datetime(2020, 5, 30, 20, 0, 0, 500000, tzinfo=UTC)) == (
        "2020-05-30T20:00:00.500000Z"
    )


def test_it_maps_each_domain_error_to_its_status_and_body():
    assert (DomainError("bad").status_code, DomainError("bad").as_body()) == (
        400,
        {"detail": "bad"},
    )
    assert DomainError("too short", field="name").as_body() == {"name": ["too short"]}
    assert [cls("x").status_code for cls in (RuleViolation, NotFound, Conflict)] == [403, 404, 409]
