"""Who may see the dashboard, through Plotly's dash-auth (ENERGY_DASHBOARD_AUTH):

- `none` (the default): open, as `make dashboard` serves it on 127.0.0.1.
- `basic`: HTTP basic auth; ENERGY_DASHBOARD_USERS maps user names to werkzeug password hashes.
- `oidc`: sign-in at an OpenID Connect provider (its discovery document at
  ENERGY_DASHBOARD_OIDC_METADATA_URL), limited to the allowed e-mail addresses or domains. The
  redirect URI to register with the provider is `https://<dashboard>/oidc/sso/callback`.

Only /api/health is public. dash-auth's own defaults would also open `/_dash-layout`,
`/_dash-dependencies` and the component scripts: none of them is needed before signing in here.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

from cachetools import TTLCache
from dash import Dash
from dash_auth import BasicAuth, OIDCAuth
from dash_auth.auth import Auth
from dash_auth.public_routes import PUBLIC_ROUTES
from flask import Response, request, session
from werkzeug.routing import Map, Rule
from werkzeug.security import check_password_hash, generate_password_hash

from energy_assets.settings import DashboardAuth, DashboardSettings

PUBLIC_PATHS = ("/api/health",)
CALLBACK_PATH = "/_dash-update-component"
IDP = "sso"  # the provider's name in dash-auth's routes: /oidc/sso/login, /oidc/sso/callback
REALM = "Energy forecasts"

logger = logging.getLogger(__name__)


class PasswordCheck:
    """BasicAuth's `auth_func`: the password against the user's werkzeug hash.

    A browser sends the password with every request (a page is a dozen requests) and a scrypt
    check costs about 60 ms of CPU, so a pair that passed is remembered for a few minutes, as an
    HMAC under a key that lives only in this process. An unknown user costs a check too, so the
    time of an answer does not tell which user names exist."""

    VERIFIED_TTL_SECONDS = 300.0
    VERIFIED_MAX = 256  # pairs, far more than a team's users and devices

    def __init__(self, hashes: Mapping[str, str]) -> None:
        self._hashes = dict(hashes)
        self._key = secrets.token_bytes(32)
        self._decoy = generate_password_hash(secrets.token_urlsafe(16))
        self._verified: TTLCache[bytes, bool] = TTLCache(
            maxsize=self.VERIFIED_MAX, ttl=self.VERIFIED_TTL_SECONDS
        )
        self._lock = threading.Lock()

    def __call__(self, user: str, password: str) -> bool:
        stored = self._hashes.get(user)
        if stored is None:
            check_password_hash(self._decoy, password)
            return False
        pair = hmac.new(self._key, f"{user}\0{password}".encode(), "sha256").digest()
        with self._lock:
            if pair in self._verified:
                return True
        if not check_password_hash(stored, password):
            return False
        with self._lock:
            self._verified[pair] = True
        return True


class _BasicAuth(BasicAuth):
    def is_authorized(self) -> bool:
        # dash-auth raises on a header that is not well-formed basic auth: that is a 401, too.
        try:
            return bool(super().is_authorized())
        except (IndexError, ValueError, UnicodeDecodeError):
            return False

    def login_request(self) -> Response:
        return Response(
            "Sign-in required",
            status=401,
            headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        )


class _OIDCAuth(OIDCAuth):
    """dash-auth's OIDC sign-in, letting in only the allowed accounts."""

    def __init__(self, app: Dash, allowed: Callable[[Mapping[str, Any]], bool], **kw: Any) -> None:
        self._allowed = allowed
        super().__init__(app, **kw)

    def is_authorized(self) -> bool:
        if not super().is_authorized():
            return False
        user = session.get("user")
        return user is None or self._allowed(user)  # None: a sign-in route itself

    def login_request(self, idp: str | None = None) -> Any:
        try:
            return super().login_request(idp)
        except Exception:  # the provider's discovery document could not be read
            logger.exception("the sign-in provider could not be reached")
            return Response("The sign-in provider cannot be reached; try again later.", 503)

    def callback(self, idp: str) -> Any:
        answer = super().callback(idp)
        user = session.get("user")
        if user is not None and not self._allowed(user):
            logger.warning("sign-in refused for %s", user.get("email"))
            session.clear()
            return Response("This account may not see the dashboard.", 403)
        return answer


def allowed_accounts(emails: tuple[str, ...], domains: tuple[str, ...]) -> Callable[..., bool]:
    """Whether a signed-in user's claims name an allowed, verified e-mail address."""

    def allowed(user: Mapping[str, Any]) -> bool:
        email = str(user.get("email") or "").lower()
        if not email or user.get("email_verified") is False:
            return False
        return email in emails or "*" in domains or email.rsplit("@", 1)[-1] in domains

    return allowed


def protect(app: Dash, settings: DashboardSettings) -> Auth | None:
    """Put the configured sign-in in front of every route but /api/health."""
    mode = settings.dashboard_auth
    server = app.server
    key = settings.dashboard_secret_key
    auth: Auth
    if mode is DashboardAuth.NONE:
        return None
    if mode is DashboardAuth.BASIC:
        auth = _BasicAuth(
            app,
            auth_func=PasswordCheck(settings.dashboard_user_hashes()),
            # dash-auth keeps the user name in the session: with no key configured, a key of this
            # process signs it (the password comes with every request, the session proves nothing).
            secret_key=key.get_secret_value() if key else secrets.token_urlsafe(32),
        )
    else:
        assert key is not None and settings.dashboard_oidc_client_secret is not None
        https = settings.dashboard_oidc_https
        oidc = _OIDCAuth(
            app,
            allowed_accounts(
                settings.dashboard_oidc_allowed_emails, settings.dashboard_oidc_allowed_domains
            ),
            secret_key=key.get_secret_value(),
            force_https_callback=https,
            secure_session=https,
            log_signins=True,
        )
        oidc.register_provider(
            IDP,
            client_id=settings.dashboard_oidc_client_id,
            client_secret=settings.dashboard_oidc_client_secret.get_secret_value(),
            server_metadata_url=settings.dashboard_oidc_metadata_url,
        )
        auth = oidc
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    # Exactly these paths are public (passing `public_routes` would add dash-auth's defaults).
    server.config[PUBLIC_ROUTES] = Map([Rule(path) for path in PUBLIC_PATHS]).bind("")

    # dash-auth lets a callback through when one of its inputs is a `pathname` naming a public
    # route; whatever the body says, a callback here needs a signed-in user. Runs first, before
    # dash-auth reads the body.
    def _callbacks_need_sign_in() -> Any:
        if request.path == CALLBACK_PATH and not auth.is_authorized():
            return auth.login_request()
        return None

    server.before_request_funcs.setdefault(None, []).insert(0, _callbacks_need_sign_in)
    return auth
