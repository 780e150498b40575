"""schemathesis against the live test server: no 500, no response outside the schema."""

import base64
import datetime as dt

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import grant_analytics

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_against_its_schema(live_server, porpoise):
    pp = porpoise()
    now = pp.now()
    pp.mark_many(
        [("signup", i, now - dt.timedelta(days=1)) for i in range(20)]
        + [("active", i) for i in range(10)]
    )
    pp.count_many([("plays", f"song-{i}", i, None) for i in range(1, 6)])
    pp.metric("ads").count({"revenue": 3}, {"country": "US"})
    grant_analytics(get_user_model().objects.create_user("staff", password="pw", is_staff=True))
    auth = {"Authorization": "Basic " + base64.b64encode(b"staff:pw").decode()}
    base = f"{live_server.url}/api/porpoise"
    schema = schemathesis.openapi.from_url(f"{base}/schema/?format=json", headers=auth)
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case):
            try:
                case.call_and_validate(
                    base_url=base,
                    headers=auth,
                    checks=[not_a_server_error, response_schema_conformance],
                )
            except Exception as exc:  # collect, to report every operation at once
                failures.append(f"{case.method} {case.formatted_path}: {exc}")
                raise

        collected = len(failures)
        try:
            check()
        except Exception as exc:
            # A failing call was collected above; anything else (a strategy that
            # cannot be built, a check that crashed) is a failure of its own.
            if len(failures) == collected:
                label = getattr(operation, "label", repr(operation))
                failures.append(f"{label}: {type(exc).__name__}: {exc}")
    assert operations >= 15
    assert failures == [], "\n\n".join(failures[:5])
