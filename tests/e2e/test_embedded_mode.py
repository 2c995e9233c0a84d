"""Smoke test of what `make run` starts: daphne on SQLite with no Redis, demo data, real HTTP."""

import pytest
import requests

from tests.e2e.conftest import daphne, embedded_env, manage

pytestmark = pytest.mark.e2e


def test_it_runs_embedded_with_demo_data(tmp_path):
    env = embedded_env(tmp_path)
    manage(env, "migrate", "--noinput")
    output = manage(env, "load_demo_data")
    assert "demo-ams-password" in output
    assert "http://127.0.0.1:8000/oauth2/token/" in output
    # Loading twice must work (`make run` twice), on another port too (`make run PORT=8017`).
    again = manage(env, "load_demo_data", "--base-url", "http://127.0.0.1:8017/")
    assert "http://127.0.0.1:8017/oauth2/token/" in again and ":8000" not in again

    with daphne(env) as base:
        health = requests.get(base + "/healthz/", timeout=5)
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok", "channel_layer": "ok"}

        token = requests.post(
            base + "/oauth2/token/",
            data={"grant_type": "password", "username": "alice", "password": "demo-pass-2026"},
            auth=("demo-ams-password", "demo-password-secret"),
            timeout=5,
        )
        assert token.status_code == 200, token.text
        body = token.json()
        assert body["scope"] == "all" and body["expires_in"] == 36000

        headers = {"Authorization": f"Bearer {body['access_token']}"}
        account = requests.get(base + "/api/v1/account/", headers=headers, timeout=5)
        assert account.status_code == 200
        assert account.json()["username"] == "alice"
        assert account.json()["role"] == "MANAGER"

        no_slash = requests.get(
            base + "/api/v1/account", headers=headers, timeout=5, allow_redirects=False
        )
        assert no_slash.status_code == 404
        assert no_slash.headers["Content-Type"] == "application/json"

        docs = requests.get(base + "/api/docs/", timeout=5)
        assert docs.status_code == 200
        asset = requests.get(
            base + "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", timeout=5
        )
        assert asset.status_code == 200

        admin_css = requests.get(base + "/static/admin/css/base.css", timeout=5)
        assert admin_css.status_code == 200
