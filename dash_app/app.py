"""The dashboard: forecast, accuracy, drift and alerts, and health pages, plus JSON endpoints.

Production: `gunicorn -c python:dash_app.gunicorn_config dash_app.app:server`, signed in as
ENERGY_DASHBOARD_AUTH says (dash_app/auth.py). Local: `make dashboard`.
"""

from __future__ import annotations

import re
from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, dcc, html
from flask import Flask, Response, jsonify, request

from dash_app import auth, cards, health, models, pages, views, warmup
from dash_app.store import STORE_EXTENSION, DashboardStore, store_of
from energy_assets.settings import DashboardSettings, load_dashboard_settings

_VERSION = re.compile(r"[1-9][0-9]{0,8}")
# The largest body the dashboard takes: a Dash callback's JSON (its inputs and state), a few KB.
MAX_BODY_BYTES = 64 * 1024


def create_app(
    settings: DashboardSettings | None = None, store: DashboardStore | None = None
) -> Dash:
    settings = settings or load_dashboard_settings()
    store = store or DashboardStore.from_settings(settings)
    # Bootstrap's CSS comes from dash_app/assets/ (vendored, served by the app itself, like
    # every script of Dash and dash-bootstrap-components): the page loads nothing from elsewhere.
    app = Dash(__name__, title="Energy forecasts", suppress_callback_exceptions=True)
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.layout = dbc.Container(
        [
            dcc.Location(id="url"),
            # The status cards follow the pages and refresh every minute.
            dcc.Interval(id="status-refresh", interval=60_000),
            html.Header(
                [
                    html.H1(
                        "Danish electricity consumption: forecasts through tomorrow",
                        className="h4 my-3",
                    ),
                    pages.nav(),
                ]
            ),
            html.Div(id="status-cards", className="my-3"),
            html.Main(html.Div(id="page")),
        ],
        fluid=True,
        className="pb-4",
    )
    _add_callbacks(app, store)
    _add_routes(app.server, store)
    auth.protect(app, settings)
    # Background readers: the first page's data once, and the health facts. They start with
    # the first ask, or at once where the server says (gunicorn's post_worker_init calls
    # `start_watching` of the store kept here).
    store.watched(health.FIRST_PAGE, lambda: warmup.first_page(store), None)
    health.watch(store)
    app.server.extensions[STORE_EXTENSION] = store
    return app


def _add_callbacks(app: Dash, store: DashboardStore) -> None:
    @app.callback(Output("page", "children"), Input("url", "pathname"))
    def _page(pathname: str | None) -> html.Div:
        return pages.render_page(store, pathname)

    @app.callback(
        Output("status-cards", "children"),
        Input("url", "pathname"),
        Input("status-refresh", "n_intervals"),
    )
    def _cards(_pathname: str | None, _ticks: int | None) -> Any:
        return cards.render(cards.status_cards(store))

    models.register(app, store)  # the Models page's approve and reject buttons

    @app.callback(
        Output("forecast-type", "options"),
        Output("forecast-type", "value"),
        Input("forecast-area", "value"),
        State("forecast-type", "value"),
    )
    def _series(area: str | None, current: Any) -> tuple[Any, ...]:
        return pages.update_series_options(store, area, current)

    @app.callback(
        Output("forecast-graph", "figure"),
        Output("forecast-version", "children"),
        Output("forecast-banner", "children"),
        Output("forecast-banner", "style"),
        Input("forecast-area", "value"),
        Input("forecast-type", "value"),
        Input("forecast-date", "date"),
    )
    def _forecast(area: str, code: int, day: str | None) -> tuple[Any, ...]:
        return pages.update_forecast(store, area, code, day)

    @app.callback(
        Output("accuracy-table", "data"),
        Output("accuracy-heatmap", "figure"),
        Output("accuracy-leads", "data"),
        Input("accuracy-area", "value"),
        Input("accuracy-lead", "value"),
    )
    def _accuracy(area: str | None, lead: int | None) -> tuple[Any, ...]:
        return pages.update_accuracy(store, area, lead)


def _add_routes(server: Flask, store: DashboardStore) -> None:
    @server.get("/api/health")
    def _health() -> tuple[Response, int]:
        """Public: the status and each fact's ok, nothing about the storage or its errors."""
        body, code = health.public_health(store)
        return jsonify(body), code

    @server.get("/api/predictions")
    def _predictions() -> tuple[Response, int]:
        try:
            views.check_query(request.args.items(multi=True))
            payload = views.predictions_payload(store, dict(request.args))
        except views.BadRequest as exc:
            return jsonify({"error": str(exc)}), 400
        except views.NotStored as exc:
            return jsonify({"error": str(exc)}), 404
        except Exception:  # unreadable storage: a JSON answer, the details in the server log
            server.logger.exception("/api/predictions failed")
            return jsonify({"error": "the stored predictions could not be read"}), 503
        return jsonify(payload), 200

    @server.get("/reports/drift/<day>")
    def _drift_report(day: str) -> Response | tuple[Response, int]:
        try:
            views.parse_day(day, "day")
        except views.BadRequest as exc:
            return jsonify({"error": str(exc)}), 400
        report = store.drift_report(day)
        if report is None:
            return jsonify({"error": f"no drift report stored for {day}"}), 404
        return Response(report, mimetype="text/html")

    @server.get("/reports/model/<week>/<version>")
    def _model_report(week: str, version: str) -> Response | tuple[Response, int]:
        try:
            views.parse_week(week)
        except views.BadRequest as exc:
            return jsonify({"error": str(exc)}), 400
        if not _VERSION.fullmatch(version):
            return jsonify(
                {"error": f"version must be a model version number, got {version!r}"}
            ), 400
        report = store.model_report(week, version)
        if report is None:
            return jsonify({"error": f"no report stored for version {version} of {week}"}), 404
        return Response(report, mimetype="text/html")


app = create_app()
server = app.server

if __name__ == "__main__":
    store_of(server).start_watching()
    app.run(host="127.0.0.1", port=8050, debug=False)
