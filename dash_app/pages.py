"""The dashboard's pages: what each shows, and the functions its callbacks call.

One list of pages, `PAGES`, serves the navigation, the router and the screenshots.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from dash.dash_table.DataTable import DataTable

from dash_app import figures, views
from dash_app.store import DashboardStore
from energy_assets import names
from energy_assets.domain.schema import AREA, AREAS, key_label
from energy_assets.domain.series import SeriesSet

BANNER = {
    "background": "#fef3c7",
    "border": "1px solid #d97706",
    "padding": "8px 12px",
    "margin": "8px 0",
    "borderRadius": "4px",
}
HIDDEN = {"display": "none"}
ALERT_COLUMNS = ("raised_at", "level", "day", "message")


def series_options(series: SeriesSet | None, area: str | None) -> list[dict[str, Any]]:
    """The forecast page's second selector: the series of an area, named by their other keys."""
    if series is None:
        return []
    others = [i for i, k in enumerate(series.keys) if k != AREA]
    area_at = series.keys.index(AREA)
    options = []
    for row in series.values:
        if row[area_at] == area:
            value = "/".join(str(row[i]) for i in others)
            label = " · ".join(key_label(series.keys[i], row[i]) for i in others)
            options.append({"label": label, "value": value})
    return options


def forecast_page(store: DashboardStore) -> html.Div:
    days = store.partitions(names.PREDICTIONS)
    newest = days[-1] if days else None
    series = views.stored_series(store)
    areas = sorted(set(series.areas())) if series is not None else list(AREAS)
    area = areas[0] if areas else None
    options = series_options(series, area)
    return html.Div(
        [
            html.H2("Forecast"),
            html.Div(
                [
                    dcc.Dropdown(
                        [{"label": a, "value": a} for a in areas],
                        area,
                        id="forecast-area",
                        clearable=False,
                        style={"width": "140px"},
                    ),
                    dcc.Dropdown(
                        options,
                        options[0]["value"] if options else None,
                        id="forecast-type",
                        clearable=False,
                        style={"width": "260px"},
                    ),
                    dcc.DatePickerSingle(
                        id="forecast-date",
                        date=newest,
                        min_date_allowed=days[0] if days else None,
                        max_date_allowed=newest,
                        display_format="YYYY-MM-DD",
                    ),
                ],
                style={"display": "flex", "gap": "12px", "alignItems": "center"},
            ),
            html.Div(id="forecast-banner", style=HIDDEN),
            html.Div(id="forecast-version", style={"margin": "8px 0", "color": "#374151"}),
            dcc.Graph(id="forecast-graph"),
        ]
    )


def accuracy_page(store: DashboardStore) -> html.Div:
    return html.Div(
        [
            html.H2("Accuracy"),
            dcc.Graph(id="accuracy-graph", figure=accuracy_over_time(store)),
            dcc.Dropdown(
                [{"label": "both areas", "value": "all"}]
                + [{"label": a, "value": a} for a in AREAS],
                "all",
                id="accuracy-area",
                clearable=False,
                style={"width": "180px"},
            ),
            html.H3("Per-series MAPE, newest day"),
            DataTable(
                id="accuracy-table",
                columns=[{"name": n, "id": n} for n in ("series", "day", "mape", "wape", "bias")],
                sort_action="native",
                page_size=20,
                style_cell={"fontFamily": "monospace", "padding": "4px"},
            ),
            dcc.Graph(id="accuracy-heatmap"),
        ]
    )


def drift_page(store: DashboardStore) -> html.Div:
    drift = store.all_frames(names.DRIFT)
    sections: list[Any] = [html.Div("No drift results are stored yet.", style=BANNER)]
    if not drift.empty:
        sections = [
            dcc.Graph(id="drift-chart", figure=figures.drift_figure(drift)),
            html.H3("Drifted features per day"),
            html.P(
                "The full Evidently report is stored for the days that drifted. For any other "
                f"day, launch `{names.DRIFT_REPORT_JOB}` with that day as its partition in the "
                "Dagster UI; its link appears here."
            ),
            DataTable(
                id="drift-table",
                data=cast(Any, drift_rows(drift)),
                columns=[
                    {"name": "day", "id": "day"},
                    {"name": "drifted features", "id": "drifted"},
                    {"name": "report", "id": "report", "presentation": "markdown"},
                ],
                sort_action="native",
                page_size=15,
                style_cell={"textAlign": "left", "whiteSpace": "normal", "padding": "4px"},
            ),
        ]
    alerts = store.alerts()
    return html.Div(
        [
            html.H2("Drift and alerts"),
            *sections,
            html.H3("Alerts log"),
            DataTable(
                id="alerts-table",
                data=cast(Any, alerts[list(ALERT_COLUMNS)].to_dict("records")),
                columns=[{"name": n, "id": n} for n in ALERT_COLUMNS],
                sort_action="native",
                page_size=20,
                style_cell={"textAlign": "left", "whiteSpace": "normal", "padding": "4px"},
            )
            if not alerts.empty
            else html.Div("No alerts have been raised.", id="alerts-table"),
        ]
    )


def drift_rows(drift: pd.DataFrame) -> list[dict[str, str]]:
    """One row per day, newest first: the drifted features and the report link where a report
    is stored (rows written before reports were optional always had one)."""
    rows = []
    for day, group in drift.groupby("day"):
        key = str(day)[:10]
        stored = "report" not in group or bool(group["report"].fillna("").astype(str).ne("").any())
        rows.append(
            {
                "day": key,
                "drifted": ", ".join(group.loc[group["drifted"], "column"]) or "none",
                "report": f"[report](/reports/drift/{key})" if stored else "",
            }
        )
    return sorted(rows, key=lambda row: row["day"], reverse=True)


def health_page(store: DashboardStore) -> html.Div:
    status, facts = views.health_facts(store)
    return html.Div(
        [
            html.H2(f"Health: {status}"),
            html.Div(
                [
                    html.Div(
                        [html.Strong(f.name), html.Span(f" {f.value}")],
                        className="fact ok" if f.ok else "fact bad",
                        style={
                            "background": "#dcfce7" if f.ok else "#fee2e2",
                            "padding": "10px",
                            "margin": "6px 0",
                            "borderRadius": "4px",
                        },
                    )
                    for f in facts
                ],
                id="health-panel",
            ),
        ]
    )


def accuracy_over_time(store: DashboardStore) -> go.Figure:
    daily = views.daily_accuracy(store)
    return figures.accuracy_figure(daily, store.settings.mape_warn, store.settings.mape_alert)


@dataclass(frozen=True)
class Page:
    name: str  # short name, e.g. of its screenshot
    path: str
    title: str
    render: Callable[[DashboardStore], html.Div]


PAGES: dict[str, Page] = {
    page.name: page
    for page in (
        Page("forecast", "/", "Forecast", forecast_page),
        Page("accuracy", "/accuracy", "Accuracy", accuracy_page),
        Page("drift", "/drift", "Drift and alerts", drift_page),
        Page("health", "/health", "Health", health_page),
    )
}


def nav() -> html.Nav:
    return html.Nav(
        [dcc.Link(p.title, href=p.path, style={"marginRight": "18px"}) for p in PAGES.values()],
        style={"padding": "10px 0", "borderBottom": "1px solid #e5e7eb"},
    )


def render_page(store: DashboardStore, pathname: str | None) -> html.Div:
    page = next((p for p in PAGES.values() if p.path == (pathname or "/")), None)
    if page is None:
        return html.Div([html.H2("Not found"), html.P(f"There is no page {pathname}.")])
    return page.render(store)


def update_series_options(
    store: DashboardStore, area: str | None, current: Any
) -> tuple[list[dict[str, Any]], Any]:
    """The series selector's options for an area, keeping the chosen series where it exists."""
    options = series_options(views.stored_series(store), area)
    values = [o["value"] for o in options]
    keep = str(current) if current is not None and str(current) in values else None
    return options, keep or (values[0] if values else None)


def update_forecast(
    store: DashboardStore, area: str | None, rest: Any, day: str | None
) -> tuple[go.Figure, str, Any, dict[str, str]]:
    """Figure, model-version line, banner content and banner style of the forecast page."""
    series = views.stored_series(store)
    if not day or series is None:
        return go.Figure(), "", "No forecasts are stored yet.", BANNER
    try:
        chosen = views.parse_series(views.series_args(area, rest, series), series)
        view = views.forecast_view(store, chosen, dt.date.fromisoformat(day[:10]))
    except (views.BadRequest, ValueError) as exc:
        return go.Figure(), "", str(exc), BANNER
    title = f"{views.series_title(chosen)} · {day[:10]}"
    figure = figures.forecast_figure(view.actuals, view.forecast, title)
    version = f"Model version: {view.model_uri}" if view.model_uri else ""
    if view.problems:
        return figure, version, " ".join(view.problems), BANNER
    return figure, version, "", HIDDEN


def update_accuracy(
    store: DashboardStore, area: str | None
) -> tuple[list[dict[str, Any]], go.Figure]:
    """Rows of the per-series table (newest day) and the heat map, for one area or both."""
    series = views.series_accuracy(store, area)
    if series.empty:
        return [], go.Figure()
    newest = series[series["day"] == series["day"].max()].sort_values("mape", ascending=False)
    rows = [
        {
            "series": r.series,
            "day": str(r.day)[:10],
            "mape": round(float(r.mape), 4),
            "wape": round(float(r.wape), 4),
            "bias": round(float(r.bias), 4),
        }
        for r in newest.itertuples()
    ]
    return rows, figures.heatmap_figure(series)
