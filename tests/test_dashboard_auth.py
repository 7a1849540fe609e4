"""Signing in to the dashboard: basic auth, OIDC, the public health answer, the settings that
configure them, and the dashboard under gunicorn as deployed."""

from __future__ import annotations

import base64
import importlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from werkzeug.security import generate_password_hash

from dash_app.app import create_app
from dash_app.auth import PasswordCheck, allowed_accounts
from energy_assets.settings import DashboardSettings, SettingsError, load_dashboard_settings
from energy_assets.storage.objects import storage_from_settings
from tests.loopback import free_port, stalled_server, wait_for_port
from tests.test_dashboard import DAYS, known_health, seed

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD = "ann", "correct horse battery staple"
PREDICTIONS = f"/api/predictions?area=DK1&consumer_type=111&date={DAYS[0]}"
# Every route but /api/health needs a signed-in user; pages are served by Dash for any path.
PROTECTED = [
    "/",
    "/forecast",
    "/accuracy",
    "/_dash-layout",
    "/_dash-dependencies",
    PREDICTIONS,
    "/reports/drift/2023-01-01",
]


@pytest.fixture(scope="module")
def users() -> str:
    return json.dumps({USER: generate_password_hash(PASSWORD)})


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def basic_settings(tmp_path: Path, users: str) -> DashboardSettings:
    settings = load_dashboard_settings(
        storage_dir=tmp_path / "storage",
        state_dir=tmp_path / "state",
        dashboard_auth="basic",
        dashboard_users=users,
    )
    seed(storage_from_settings(settings))
    return settings


@pytest.fixture
def client(basic_settings: DashboardSettings) -> Any:
    return create_app(basic_settings).server.test_client()


# --- basic auth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROTECTED)
def test_every_route_but_health_asks_for_a_password(client: Any, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Basic ")
    assert client.get(path, headers=basic(USER, "wrong")).status_code == 401
    assert client.get(path, headers=basic("bob", PASSWORD)).status_code == 401


def test_the_right_password_opens_pages_and_endpoints(client: Any) -> None:
    good = basic(USER, PASSWORD)
    for path in ["/", "/forecast", "/_dash-layout"]:
        assert client.get(path, headers=good).status_code == 200, path
    answer = client.get(PREDICTIONS, headers=good)
    assert answer.status_code == 200 and len(answer.get_json()["rows"]) == 24
    assert client.get(f"/reports/drift/{DAYS[-1]}", headers=good).status_code == 200
    assert client.get("/reports/drift/2023-01-01", headers=good).status_code == 404


@pytest.mark.parametrize(
    "header",
    ["Bearer abc", "Basic", "Basic !!!not-base64", "Basic " + base64.b64encode(b"x").decode()],
)
def test_a_malformed_authorization_header_is_a_401(client: Any, header: str) -> None:
    assert client.get("/", headers={"Authorization": header}).status_code == 401


def callback_body(pathname_input: dict[str, Any]) -> dict[str, Any]:
    """The accuracy page's callback as the browser posts it, its area input as given."""
    outputs = [
        ("accuracy-table", "data"),
        ("accuracy-heatmap", "figure"),
        ("accuracy-leads", "data"),
    ]
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [pathname_input, {"id": "accuracy-lead", "property": "value", "value": 1}],
        "changedPropIds": [],
        "state": [],
    }


def test_callbacks_need_a_password_whatever_their_body_says(client: Any) -> None:
    """dash-auth would let a callback with a public `pathname` input through unasked."""
    smuggled = {"id": "accuracy-area", "property": "pathname", "value": "/api/health"}
    assert client.post("/_dash-update-component", json=callback_body(smuggled)).status_code == 401
    honest = {"id": "accuracy-area", "property": "value", "value": "DK1"}
    answer = client.post(
        "/_dash-update-component", json=callback_body(honest), headers=basic(USER, PASSWORD)
    )
    assert answer.status_code == 200
    response = answer.get_json()["response"]
    assert len(response["accuracy-table"]["data"]) == 38
    assert [r["lead_days"] for r in response["accuracy-leads"]["data"]] == [1, 2, 3]


def test_health_answers_without_a_password_and_tells_no_internals(
    client: Any, basic_settings: DashboardSettings
) -> None:
    answer = known_health(client)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["facts"]["newest prediction"] == {"ok": True, "value": DAYS[-1]}
    assert body["facts"]["last alert"]["value"] == f"ALERT {DAYS[-1]}"
    text = answer.get_data(as_text=True)
    assert "pooled MAPE" not in text and str(basic_settings.storage_dir) not in text


def test_health_of_unreadable_storage_shows_neither_error_nor_path(
    tmp_path: Path, users: str, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "secret-place" / "storage"
    not_a_folder.parent.mkdir()
    not_a_folder.write_text("a file where the storage folder should be")
    settings = load_dashboard_settings(
        storage_dir=not_a_folder,
        state_dir=tmp_path / "state",
        dashboard_auth="basic",
        dashboard_users=users,
    )
    answer = known_health(create_app(settings).server.test_client())
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["checked_at"] and body == {
        "status": "down",
        "facts": {"storage reachable": {"ok": False, "value": None}},
        "checked_at": body["checked_at"],
    }
    text = answer.get_data(as_text=True)
    assert "secret-place" not in text and "not a folder" not in text
    assert "not a folder" in caplog.text  # the server log keeps the reason


def test_a_verified_password_is_checked_once_per_few_minutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A scrypt check costs ~60 ms of CPU: a pair that passed is not checked again."""
    import dash_app.auth as module

    check = PasswordCheck({USER: generate_password_hash(PASSWORD)})
    hashed: list[str] = []
    real = module.check_password_hash

    def counted(stored: str, password: str) -> bool:
        hashed.append(password)
        return real(stored, password)

    monkeypatch.setattr(module, "check_password_hash", counted)
    assert check(USER, PASSWORD) and not check(USER, "wrong") and not check("bob", PASSWORD)
    assert hashed == [PASSWORD, "wrong", PASSWORD]  # an unknown user costs a check too
    for _ in range(20):
        assert check(USER, PASSWORD)
    assert len(hashed) == 3  # remembered: no further checks
    assert not check(USER, PASSWORD + " ") and len(hashed) == 4


def test_without_auth_the_pages_stay_open(tmp_path: Path) -> None:
    settings = load_dashboard_settings(
        storage_dir=tmp_path / "storage", state_dir=tmp_path / "state"
    )
    seed(storage_from_settings(settings))
    client = create_app(settings).server.test_client()
    for path in ["/", "/forecast", "/_dash-layout", PREDICTIONS, f"/reports/drift/{DAYS[-1]}"]:
        assert client.get(path).status_code == 200, path


# --- settings ------------------------------------------------------------------------------------


def error_of(**overrides: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        load_dashboard_settings(**overrides)
    return str(caught.value)


def test_auth_settings_errors_name_the_variable_never_the_secret() -> None:
    plaintext = "hunter2-plaintext-password"
    message = error_of(dashboard_auth="basic", dashboard_users=json.dumps({USER: plaintext}))
    assert "ENERGY_DASHBOARD_USERS" in message and "plaintext passwords are refused" in message
    assert plaintext not in message and USER in message

    not_json = "ann:hunter2-in-the-clear"
    message = error_of(dashboard_users=not_json)
    assert "ENERGY_DASHBOARD_USERS must be a JSON object" in message and not_json not in message

    assert "ENERGY_DASHBOARD_USERS must be set" in error_of(dashboard_auth="basic")

    short_key = "short-key-material"
    message = error_of(dashboard_secret_key=short_key)
    assert "ENERGY_DASHBOARD_SECRET_KEY must be at least 32" in message
    assert short_key not in message

    client_secret = "oidc-client-secret-value-123"
    message = error_of(dashboard_auth="oidc", dashboard_oidc_client_secret=client_secret)
    for name in (
        "ENERGY_DASHBOARD_OIDC_METADATA_URL",
        "ENERGY_DASHBOARD_OIDC_CLIENT_ID",
        "ENERGY_DASHBOARD_SECRET_KEY",
    ):
        assert name in message
    assert "ENERGY_DASHBOARD_OIDC_CLIENT_SECRET" not in message and client_secret not in message

    assert "ENERGY_DASHBOARD_AUTH" in error_of(dashboard_auth="password")
    message = error_of(dashboard_oidc_metadata_url="http://idp.example/.well-known/x")
    assert "ENERGY_DASHBOARD_OIDC_METADATA_URL" in message and "https://" in message


def test_secrets_never_show_in_the_settings_repr(
    users: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "k" * 40
    monkeypatch.setenv("ENERGY_DASHBOARD_AUTH", "basic")
    monkeypatch.setenv("ENERGY_DASHBOARD_USERS", users)
    monkeypatch.setenv("ENERGY_DASHBOARD_SECRET_KEY", key)
    settings = load_dashboard_settings()
    shown = repr(settings) + str(settings)
    assert key not in shown and json.loads(users)[USER] not in shown
    assert settings.dashboard_user_hashes() == json.loads(users)


# --- OIDC ----------------------------------------------------------------------------------------


@pytest.fixture
def provider() -> Iterator[str]:
    """A discovery document served on 127.0.0.1, as an OpenID Connect provider publishes it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    document = json.dumps(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/.well-known/openid-configuration"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document if found else b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)


def oidc_settings(tmp_path: Path, metadata_base: str, https: bool = False) -> DashboardSettings:
    return load_dashboard_settings(
        storage_dir=tmp_path / "storage",
        state_dir=tmp_path / "state",
        dashboard_auth="oidc",
        dashboard_secret_key="s" * 40,
        dashboard_oidc_metadata_url=f"{metadata_base}/.well-known/openid-configuration",
        dashboard_oidc_client_id="energy-dashboard",
        dashboard_oidc_client_secret="oidc-client-secret-value-123",
        dashboard_oidc_allowed_domains="example.com",
        dashboard_oidc_https=https,
    )


@pytest.mark.parametrize("https", [False, True])
def test_oidc_sends_a_visitor_to_the_provider(tmp_path: Path, provider: str, https: bool) -> None:
    client = create_app(oidc_settings(tmp_path, provider, https)).server.test_client()
    for path in ["/", "/forecast", "/_dash-layout", PREDICTIONS]:
        answer = client.get(path)
        assert answer.status_code == 302, path
        target = urlsplit(answer.headers["Location"])
        assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider}/authorize"
        query = parse_qs(target.query)
        assert query["client_id"] == ["energy-dashboard"] and "openid" in query["scope"][0]
        scheme = "https" if https else "http"
        assert query["redirect_uri"] == [f"{scheme}://localhost/oidc/sso/callback"]
        assert "oidc-client-secret" not in answer.headers["Location"]
    assert client.get("/api/health").status_code in (200, 503)  # public, no redirect


def test_oidc_lets_in_only_allowed_verified_accounts(tmp_path: Path, provider: str) -> None:
    client = create_app(oidc_settings(tmp_path, provider)).server.test_client()
    for user, expected in [
        ({"email": "ann@example.com", "email_verified": True}, 200),
        ({"email": "ann@EXAMPLE.com"}, 200),
        ({"email": "eve@example.org", "email_verified": True}, 302),
        ({"email": "eve@example.com", "email_verified": False}, 302),
        ({"sub": "no-email"}, 302),
    ]:
        with client.session_transaction() as session:
            session["user"] = user
        assert client.get("/forecast").status_code == expected, user


def test_allowed_accounts_by_address_domain_or_anyone() -> None:
    by_address = allowed_accounts(("ann@example.com",), ())
    assert by_address({"email": "ann@example.com"}) and not by_address({"email": "bo@example.com"})
    anyone = allowed_accounts((), ("*",))
    assert anyone({"email": "x@y.z"}) and not anyone({"email": "x@y.z", "email_verified": False})


def test_oidc_with_the_provider_unreachable_is_a_503(tmp_path: Path, refusing_port: int) -> None:
    settings = oidc_settings(tmp_path, f"http://127.0.0.1:{refusing_port}")
    answer = create_app(settings).server.test_client().get("/")
    assert answer.status_code == 503 and b"sign-in provider cannot be reached" in answer.data


# --- gunicorn, as deployed -----------------------------------------------------------------------


def test_the_gunicorn_config_sets_every_limit() -> None:
    from gunicorn.config import Config

    module = importlib.import_module("dash_app.gunicorn_config")
    config = Config()
    for name in dir(module):
        if name in config.settings:
            config.set(name, getattr(module, name))  # gunicorn's own validation of each value
    assert config.bind == ["0.0.0.0:8050"] and config.workers >= 1 and config.threads > 1
    assert config.timeout == 60 and 0 < config.graceful_timeout < 10 and config.keepalive > 0
    assert config.max_requests > 0 and 0 < config.max_requests_jitter < config.max_requests
    assert config.limit_request_line == 2048 and config.limit_request_fields == 50
    assert config.limit_request_field_size == 8190 and config.accesslog == "-"


def test_the_bind_address_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import dash_app.gunicorn_config as module

    try:
        monkeypatch.setenv("PORT", "9000")
        assert importlib.reload(module).bind == "0.0.0.0:9000"
        monkeypatch.setenv("ENERGY_DASHBOARD_BIND", "127.0.0.1:9001")
        assert importlib.reload(module).bind == "127.0.0.1:9001"
    finally:
        monkeypatch.undo()
        importlib.reload(module)


@pytest.mark.slow
def test_gunicorn_serves_the_dashboard_behind_basic_auth(
    basic_settings: DashboardSettings, users: str, tmp_path: Path
) -> None:
    """As deployed: the app preloaded, forked workers that answer their first /api/health at
    once, even while the registry hangs (its fact is then "not yet known"), and sign-in on
    every other route."""
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-c", "python:dash_app.gunicorn_config", "dash_app.app:server"]
    log = tmp_path / "gunicorn.log"
    base = f"http://127.0.0.1:{port}"
    with stalled_server() as hung_registry, log.open("wb") as out:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "ENERGY_DASHBOARD_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "1",  # one worker is enough to show it; the machine is small
            "ENERGY_STORAGE_DIR": str(basic_settings.storage_dir),
            "ENERGY_STATE_DIR": str(basic_settings.state_dir),
            "MLFLOW_TRACKING_URI": hung_registry,
            "ENERGY_DASHBOARD_AUTH": "basic",
            "ENERGY_DASHBOARD_USERS": users,
            "DO_NOT_TRACK": "1",
        }
        server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=out, stderr=out)
        try:
            wait_for_port(port)  # the master opens it once the app is imported
            started = time.perf_counter()
            first = requests.get(f"{base}/api/health", timeout=60)
            seconds = time.perf_counter() - started
            print(f"\nfirst /api/health of a fresh worker: {seconds * 1000:.0f} ms")
            assert first.status_code == 200, log.read_text()[-3000:]
            # Loosely (the machine may be busy): a probe's timeout is 1-5 s; the registry's
            # client alone would wait for minutes.
            assert seconds < 10
            champion = first.json()["facts"]["champion version"]
            assert champion == {"ok": None, "value": "not yet known"}

            deadline = time.monotonic() + 120
            while (health := requests.get(f"{base}/api/health", timeout=60)).json()[
                "status"
            ] == "starting":
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
            assert health.status_code == 200 and health.json()["status"] == "degraded"
            assert requests.get(f"{base}/", timeout=30).status_code == 401
            denied = requests.get(f"{base}{PREDICTIONS}", auth=(USER, "wrong"), timeout=30)
            assert denied.status_code == 401
            answer = requests.get(f"{base}{PREDICTIONS}", auth=(USER, PASSWORD), timeout=30)
            assert answer.status_code == 200 and len(answer.json()["rows"]) == 24
            page = requests.get(f"{base}/forecast", auth=(USER, PASSWORD), timeout=30)
            assert page.status_code == 200 and "Energy forecasts" in page.text
            too_long = requests.get(f"{base}/{'x' * 3000}", timeout=30)
            # gunicorn's request-line limit, before the app sees it
            assert too_long.status_code == 400 and "Request Line is too large" in too_long.text
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
    logged = log.read_text()
    assert "GET /api/health" in logged  # the access log goes to stdout
    assert PASSWORD not in logged
