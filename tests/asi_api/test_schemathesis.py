"""The OpenAPI document against the server: schemathesis sends what the document allows.

Every operation, as an admin and as a manager: no answer may be a 5xx, and every status must be
one the document lists for that operation (errors included, see asi_api/schema.py). As the
admin, schemathesis's coverage phase (boundary values, missing fields, methods and media types
the operation does not take) runs before the generated requests; as the manager, generated
requests only. Both are bounded (`SCHEMATHESIS_EXAMPLES`, default 10 generated requests per
operation and role) and derandomized, so a run is repeatable: raise the number locally to
explore further.

The server is the Django application itself over WSGI, in the test's thread and transaction, on
PostgreSQL and Redis like every other test.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance]
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "10"))
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _requests_keep_the_test_connection():
    # As Django's test client does: the app must not close the connection that holds the
    # test's transaction when a request starts or ends (CONN_MAX_AGE is 0).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_token(admin, token_for) -> str:
    return token_for(admin)


@pytest.fixture
def manager_token(alice, token_for) -> str:
    return token_for(alice)


@schema.parametrize()
@settings(BOUNDED, phases=[Phase.explicit, Phase.generate, Phase.shrink])
def test_as_an_admin(case, admin_token):
    case.call_and_validate(headers=bearer(admin_token), checks=CHECKS)


@schema.parametrize()
@settings(BOUNDED, phases=[Phase.generate, Phase.shrink])
def test_as_a_manager(case, manager_token):
    case.call_and_validate(headers=bearer(manager_token), checks=CHECKS)
