"""The Models page: every registered version with its week, gate verdict, approval state,
whether it serves its week and its report; approve and reject buttons (with a required reason)
for candidates when ENERGY_REQUIRE_APPROVAL is on.

Who decides is the signed-in user: the basic-auth user name, or the OIDC account's e-mail.
Without sign-in (ENERGY_DASHBOARD_AUTH=none) the dashboard is anonymous, and anyone who can
reach it could approve a model: decisions are then taken only from a browser on the same
machine (a request from a loopback address that no proxy forwarded), recorded as
"anonymous (no sign-in)". A dashboard published without sign-in therefore stays read-only;
there, approve with `energy-forecast model approve` instead. The buttons follow the same rule,
and the callback checks it again for every click.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, html, no_update

from dash_app.store import DashboardStore
from energy_assets.domain import tracking
from energy_assets.domain.forecasting import serving_rules
from energy_assets.settings import DashboardAuth, DashboardSettings
from energy_assets.storage.approvals import DecisionError, decide

logger = logging.getLogger(__name__)

ANONYMOUS = "anonymous (no sign-in)"
READ_ONLY = (
    "Approvals need sign-in (ENERGY_DASHBOARD_AUTH) or a browser on this machine; "
    "or use: energy-forecast model approve|reject VERSION --reason ..."
)
APPROVE, REJECT, REASON = "models-approve", "models-reject", "models-reason"


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def decider(settings: DashboardSettings) -> str | None:
    """Who makes a decision from this request; None when no one may (anonymous and remote)."""
    from flask import has_request_context, request, session

    if not has_request_context():
        return None
    if settings.dashboard_auth is DashboardAuth.BASIC:
        auth = request.authorization
        return auth.username if auth is not None and auth.username else None
    if settings.dashboard_auth is DashboardAuth.OIDC:
        user = session.get("user") or {}
        email = user.get("email") if isinstance(user, dict) else None
        return str(email) if email else None
    forwarded = request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")
    return ANONYMOUS if _loopback(request.remote_addr) and not forwarded else None


def _versions(store: DashboardStore) -> list[serving_rules.VersionInfo]:
    settings = store.settings
    return store.cached(
        ("model_versions",),
        lambda: tracking.list_versions(settings.registered_model, settings.tracking_uri),
    )


def _row(v: serving_rules.VersionInfo, serves: bool, champion: bool, can_decide: bool) -> Any:
    approval = v.approval or (serving_rules.NOT_REQUIRED if v.gate == "passed" else "-")
    decided = f"{v.approval_by} at {v.approval_at}: {v.approval_reason}" if v.approval_by else ""
    actions: Any = ""
    if approval == serving_rules.CANDIDATE and v.gate == "passed":
        key = {"version": v.version}
        actions = (
            html.Div(
                [
                    dbc.Input(
                        id={"type": REASON, **key},
                        placeholder="reason (required)",
                        size="sm",
                        maxLength=1000,
                    ),
                    dbc.Button("Approve", id={"type": APPROVE, **key}, color="success", size="sm"),
                    dbc.Button("Reject", id={"type": REJECT, **key}, color="danger", size="sm"),
                ],
                className="d-flex gap-1",
            )
            if can_decide
            else "awaits approval"
        )
    report = html.A("report", href=f"/reports/model/{v.week}/{v.version}", target="_blank")
    serving = "yes" + (" (champion)" if champion else "") if serves else "no"
    cells = [v.version, v.week, v.gate or "not run", approval, serving, decided, report, actions]
    return html.Tr([html.Td(c) for c in cells], id=f"model-row-{v.version}")


def versions_table(store: DashboardStore) -> Any:
    """The versions, newest first; a clear message when the registry cannot be read."""
    settings = store.settings
    try:
        versions = _versions(store)
        champion = tracking.champion_uri(settings.registered_model, settings.tracking_uri)
    except Exception:  # the MLflow server is unreachable or refuses: no traceback to the user
        logger.exception("the model registry could not be read")
        return dbc.Alert("The model registry could not be read.", color="warning")
    if not versions:
        return dbc.Alert("No model version is registered yet.", color="secondary")
    required = settings.require_approval
    can_decide = decider(settings) is not None
    serving = {
        w: s.uri
        for w in {v.week for v in versions}
        if (s := serving_rules.serving_of(versions, w, required)) is not None
    }
    head = ["version", "week", "gate", "approval", "serves its week", "decision", "", ""]
    rows = [_row(v, serving.get(v.week) == v.uri, v.uri == champion, can_decide) for v in versions]
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        size="sm",
        hover=True,
        responsive=True,
        id="models-table",
    )


def layout(store: DashboardStore) -> html.Div:
    settings = store.settings
    note = (
        "A version that passes its promotion gate waits as a candidate until a person approves "
        "it; until then its week is served by the newest approved earlier version."
        if settings.require_approval
        else "Approval is off (ENERGY_REQUIRE_APPROVAL): the promotion gate alone promotes."
    )
    parts: list[Any] = [html.H2("Models", className="h4"), html.P(note, className="text-muted")]
    if settings.require_approval and decider(settings) is None:
        parts.append(dbc.Alert(READ_ONLY, color="secondary", id="models-read-only"))
    parts += [
        html.Div(id="models-message"),
        html.Div(versions_table(store), id="models-body"),
    ]
    return html.Div(parts)


models_page = layout  # the name dash_app/pages.py looks for


def decide_callback(
    store: DashboardStore,
    triggered: Any,
    reasons: list[str | None],
    reason_ids: list[dict[str, str]],
) -> tuple[Any, Any]:
    """A click on Approve or Reject: (the message, the refreshed table)."""
    if not isinstance(triggered, dict) or triggered.get("type") not in (APPROVE, REJECT):
        return no_update, no_update
    version = str(triggered.get("version", ""))
    action = "approve" if triggered["type"] == APPROVE else "reject"
    by = decider(store.settings)
    if by is None:
        return dbc.Alert(READ_ONLY, color="danger"), no_update
    reason = next(
        (r for r, i in zip(reasons, reason_ids, strict=False) if str(i.get("version")) == version),
        None,
    )
    try:
        outcome = decide(store.settings, version, action, by, reason or "", storage=store.storage)
    except DecisionError as exc:
        return dbc.Alert(str(exc), color="danger", id="models-error"), no_update
    except Exception:
        logger.exception("the decision on v%s could not be recorded", version)
        return dbc.Alert("The decision could not be recorded.", color="danger"), no_update
    store.clear()  # predictions, versions: read again
    entry = outcome.decision
    message = dbc.Alert(
        f"v{entry.version} (week {entry.week}) {entry.decision} by {entry.by}.",
        color="success",
        id="models-done",
    )
    return message, versions_table(store)


def register(app: Dash, store: DashboardStore) -> None:
    """The Models page's callback."""

    @app.callback(
        Output("models-message", "children"),
        Output("models-body", "children"),
        Input({"type": APPROVE, "version": ALL}, "n_clicks"),
        Input({"type": REJECT, "version": ALL}, "n_clicks"),
        State({"type": REASON, "version": ALL}, "value"),
        State({"type": REASON, "version": ALL}, "id"),
        prevent_initial_call=True,
    )
    def _decide(
        _approve: list[int | None],
        _reject: list[int | None],
        reasons: list[str | None],
        reason_ids: list[dict[str, str]],
    ) -> tuple[Any, Any]:
        if not any(ctx.triggered and t.get("value") for t in ctx.triggered):
            return no_update, no_update  # buttons appearing, not a click
        return decide_callback(store, ctx.triggered_id, reasons, reason_ids)
