"""The dashboard's pages: what each shows, and the functions its callbacks call.

One list of pages, `PAGES`, serves the navigation, the router and the screenshots.
"""

from __future__ import annotations

import datetime as dt
import html as html_text
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from dash.dash_table.DataTable import DataTable
from dash.dash_table.Format import Format, Group, Scheme, Symbol

from dash_app import figures, health, models, views
from dash_app.store import DashboardStore
from energy_assets import names
from energy_assets.domain.forecasting.feature_names import label
from energy_assets.domain.schema import AREA, AREAS, key_label
from energy_assets.domain.series import SeriesSet

BANNER: dict[str, str] = {}  # shown: the banner's look comes from its Bootstrap alert classes
HIDDEN = {"display": "none"}
# A health fact by its ok: fine, wrong, or not read yet.
FACT_COLOURS = {True: "success", False: "danger", None: "secondary"}
FACT_CLASSES = {True: "ok", False: "bad", None: "unknown"}
ALERT_COLUMNS = ("raised_at", "level", "day", "message")
# Bootstrap 5.3's subtle warning and danger backgrounds (and their text colours): the accuracy
# table's MAPE cells above the warn and above the alert threshold.
AMBER = {"backgroundColor": "#fff3cd", "color": "#664d03"}
RED = {"backgroundColor": "#f8d7da", "color": "#58151c"}
PERCENT: Any = Format(precision=1, scheme=Scheme.fixed, symbol=Symbol.yes, symbol_suffix=" %")
KWH: Any = Format(
    precision=0, scheme=Scheme.fixed, group=Group.yes, symbol=Symbol.yes, symbol_suffix=" kWh"
)
TABLE_STYLE = {
    "style_table": {"overflowX": "auto"},
    "style_cell": {
        "fontFamily": "inherit",
        "fontSize": "0.875rem",
        "padding": "4px 6px",
        "whiteSpace": "normal",
        "height": "auto",
        "minWidth": "48px",
    },
    "style_header": {"fontWeight": "600", "backgroundColor": "#f8f9fa"},
    "style_cell_conditional": [{"if": {"column_type": "text"}, "textAlign": "left"}],
    # Markdown cells hold a paragraph: without its margin they line up with the others.
    "css": [{"selector": ".dash-cell .cell-markdown p", "rule": "margin: 0"}],
}
# No mode bar: on a phone it covers the title. Drag to zoom, double-click to reset.
GRAPH_CONFIG: Any = {"displayModeBar": False, "responsive": True}


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


def selector(label: str, control: Any, **sizes: Any) -> dbc.Col:
    """A labelled control in a column of a selectors row."""
    return dbc.Col(
        [dbc.Label(label, html_for=control.id, className="small d-block"), control], **sizes
    )


def day_picker(store: DashboardStore, tomorrow: dt.date) -> dcc.DatePickerSingle:
    """On tomorrow; any day from the first issue through the farthest one forecast."""
    days = store.partitions(names.PREDICTIONS)
    reach = dt.timedelta(days=store.settings.horizon_days - 1)
    last = max(tomorrow, dt.date.fromisoformat(days[-1]) + reach) if days else tomorrow
    return dcc.DatePickerSingle(
        id="forecast-date",
        date=tomorrow.isoformat(),
        min_date_allowed=days[0] if days else None,
        max_date_allowed=last.isoformat(),
        display_format="YYYY-MM-DD",
    )


def forecast_page(store: DashboardStore, today: dt.date | None = None) -> html.Div:
    """Opens on tomorrow (UTC): the newest forecast of each day from the newest actuals
    through it."""
    tomorrow = (today or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=1)
    series = views.stored_series(store)
    areas = sorted(set(series.areas())) if series is not None else list(AREAS)
    area = areas[0] if areas else None
    options = series_options(series, area)
    first = options[0]["value"] if options else None
    return html.Div(
        [
            html.H2("Forecast", className="h4"),
            dbc.Row(
                [
                    selector(
                        "Price area",
                        dcc.Dropdown(
                            [{"label": a, "value": a} for a in areas],
                            area,
                            id="forecast-area",
                            clearable=False,
                        ),
                        xs=4,
                        md=2,
                    ),
                    selector(
                        "Series",
                        dcc.Dropdown(options, first, id="forecast-type", clearable=False),
                        xs=8,
                        md=4,
                    ),
                    selector("Day", day_picker(store, tomorrow), xs=12, md="auto"),
                ],
                className="g-2 align-items-end",
            ),
            html.P(
                "The newest forecast of each day from the newest actuals through the chosen "
                "day (tomorrow unless chosen), with its P10-P90 band; hover for its lead.",
                className="small text-secondary my-2",
            ),
            html.Div(id="forecast-banner", className="alert alert-warning my-2", style=HIDDEN),
            html.Div(id="forecast-version", className="my-2 text-secondary text-break"),
            dcc.Graph(id="forecast-graph", config=GRAPH_CONFIG),
        ]
    )


def accuracy_colours(warn: float, alert: float) -> list[dict[str, Any]]:
    """The MAPE cells above the warn threshold amber, above the alert threshold red (the table
    holds percentages; the later rule wins)."""
    return [
        {
            "if": {"filter_query": f"{{mape}} > {round(limit * 100, 6)}", "column_id": "mape"},
            **style,
        }
        for limit, style in ((warn, AMBER), (alert, RED))
    ]


def ahead(lead: int) -> str:
    return f"{lead} day{'s' if lead != 1 else ''} ahead"


def lead_options(store: DashboardStore) -> tuple[list[dict[str, Any]], int]:
    """The leads scored, and the one shown first: the alert lead where it was scored."""
    leads = views.leads_scored(store) or [store.settings.alert_lead]
    alert_lead = store.settings.alert_lead
    options = [{"label": ahead(n), "value": n} for n in leads]
    return options, alert_lead if alert_lead in leads else leads[0]


def leads_table(warn: float, alert: float) -> DataTable:
    """Each lead's figures pooled over every monitored day (rows: `update_accuracy`)."""
    return DataTable(
        id="accuracy-leads",
        columns=[
            {"name": "days ahead", "id": "lead_days", "type": "numeric"},
            {"name": "days scored", "id": "days", "type": "numeric"},
            {"name": "MAPE", "id": "mape", "type": "numeric", "format": PERCENT},
            {"name": "WAPE", "id": "wape", "type": "numeric", "format": PERCENT},
            {"name": "bias", "id": "bias", "type": "numeric", "format": PERCENT},
        ],
        style_data_conditional=accuracy_colours(warn, alert),
        **TABLE_STYLE,  # type: ignore[arg-type]
    )


def accuracy_page(store: DashboardStore) -> html.Div:
    settings = store.settings
    warn, alert = settings.mape_warn, settings.mape_alert
    leads, lead = lead_options(store)
    areas = [{"label": "both areas", "value": "all"}] + [{"label": a, "value": a} for a in AREAS]
    return html.Div(
        [
            html.H2("Accuracy", className="h4"),
            dcc.Graph(id="accuracy-graph", figure=accuracy_over_time(store), config=GRAPH_CONFIG),
            dbc.Row(
                [
                    selector(
                        "Price area",
                        dcc.Dropdown(areas, "all", id="accuracy-area", clearable=False),
                        xs=6,
                        md=3,
                    ),
                    selector(
                        "Lead of the per-series figures",
                        dcc.Dropdown(leads, lead, id="accuracy-lead", clearable=False),
                        xs=6,
                        md=3,
                    ),
                ],
                className="g-2 my-2",
            ),
            html.H3("Accuracy by lead, over every monitored day", className="h5 mt-3"),
            html.P(
                "Each lead's forecasts pooled over the days and series scored (the area above "
                "narrows them): how far ahead the forecasts stay useful.",
                className="small text-secondary",
            ),
            leads_table(warn, alert),
            html.H3("Per-series MAPE, newest day, at the lead chosen", className="h5 mt-3"),
            html.P(
                f"Sort by a column's arrows; filter by typing in the row under the headers "
                f"(e.g. DK2 under series, > 10 under MAPE). MAPE above {warn * 100:g} % is amber, "
                f"above {alert * 100:g} % red.",
                className="small text-secondary",
            ),
            DataTable(
                id="accuracy-table",
                columns=[
                    {"name": "series", "id": "series", "type": "text"},
                    {"name": "MAPE", "id": "mape", "type": "numeric", "format": PERCENT},
                    {"name": "WAPE", "id": "wape", "type": "numeric", "format": PERCENT},
                    {"name": "bias", "id": "bias", "type": "numeric", "format": PERCENT},
                    {"name": "actual", "id": "actual_kwh", "type": "numeric", "format": KWH},
                ],
                sort_action="native",
                filter_action="native",
                filter_options={"case": "insensitive"},
                page_size=20,
                style_data_conditional=accuracy_colours(warn, alert),
                **TABLE_STYLE,  # type: ignore[arg-type]
            ),
            dcc.Graph(id="accuracy-heatmap", config=GRAPH_CONFIG),
        ]
    )


def drift_page(store: DashboardStore) -> html.Div:
    drift = store.all_frames(names.DRIFT)
    sections: list[Any] = [dbc.Alert("No drift results are stored yet.", color="warning")]
    if not drift.empty:
        sections = [
            dcc.Graph(
                id="drift-chart", figure=figures.drift_figure(drift, label), config=GRAPH_CONFIG
            ),
            html.H3("Drifted features per day", className="h5 mt-3"),
            html.P(
                "Features are named in words; hover over a name for its column in the model. "
                "The full Evidently report is stored for the days that drifted. For any other "
                f"day, launch `{names.DRIFT_REPORT_JOB}` with that day as its partition in the "
                "Dagster UI; its link appears here.",
                className="small text-secondary",
            ),
            DataTable(
                id="drift-table",
                data=cast(Any, drift_rows(drift)),
                columns=[
                    {"name": "day", "id": "day"},
                    {"name": "drifted features", "id": "drifted", "presentation": "markdown"},
                    {"name": "report", "id": "report", "presentation": "markdown"},
                ],
                # Feature names are <abbr> elements whose title is the column name.
                markdown_options={"html": True},
                sort_action="native",
                page_size=15,
                **TABLE_STYLE,  # type: ignore[arg-type]
            ),
        ]
    alerts = store.alerts()
    return html.Div(
        [
            html.H2("Drift and alerts", className="h4"),
            *sections,
            html.H3("Alerts log", className="h5 mt-3"),
            DataTable(
                id="alerts-table",
                data=cast(Any, alert_rows(alerts)),
                columns=[{"name": n.replace("_", " "), "id": n} for n in ALERT_COLUMNS],
                sort_action="native",
                page_size=20,
                style_data_conditional=[
                    {
                        "if": {"filter_query": f'{{level}} = "{level}"', "column_id": "level"},
                        **style,
                    }
                    for level, style in (("WARN", AMBER), ("ALERT", RED), ("FAILURE", RED))
                ],
                **TABLE_STYLE,  # type: ignore[arg-type]
            )
            if not alerts.empty
            else html.Div("No alerts have been raised.", id="alerts-table"),
        ]
    )


def feature_markup(column: str) -> str:
    """A feature named in words, its column name as the tooltip (markdown with HTML)."""
    words, code = html_text.escape(label(column)), html_text.escape(column, quote=True)
    return f'<abbr title="{code}" data-feature="{code}">{words}</abbr>'


def drift_rows(drift: pd.DataFrame) -> list[dict[str, str]]:
    """One row per day, newest first: the drifted features and the report link where a report
    is stored (rows written before reports were optional always had one)."""
    rows = []
    for day, group in drift.groupby("day"):
        key = str(day)[:10]
        stored = "report" not in group or bool(group["report"].fillna("").astype(str).ne("").any())
        drifted = [feature_markup(str(c)) for c in group.loc[group["drifted"], "column"]]
        rows.append(
            {
                "day": key,
                "drifted": "; ".join(drifted) or "none",
                "report": f"[report](/reports/drift/{key})" if stored else "",
            }
        )
    return sorted(rows, key=lambda row: row["day"], reverse=True)


def alert_rows(alerts: pd.DataFrame) -> list[dict[str, Any]]:
    """The alerts log, newest first, its times to the minute (UTC)."""
    rows = alerts[list(ALERT_COLUMNS)].copy()
    raised = pd.to_datetime(rows["raised_at"], utc=True, errors="coerce")
    rows["raised_at"] = raised.dt.strftime("%Y-%m-%d %H:%M").fillna(rows["raised_at"].astype(str))
    return cast(list[dict[str, Any]], rows.iloc[::-1].to_dict("records"))


def health_page(store: DashboardStore) -> html.Div:
    status, facts = health.health_facts(store)
    return html.Div(
        [
            html.H2(f"Health: {status}", className="h4"),
            dbc.ListGroup(
                [
                    dbc.ListGroupItem(
                        [html.Strong(f.name), html.Span(f" {f.value}")],
                        color=FACT_COLOURS[f.ok],
                        className=f"fact {FACT_CLASSES[f.ok]} text-break",
                    )
                    for f in facts
                ],
                id="health-panel",
            ),
        ]
    )


def accuracy_over_time(store: DashboardStore) -> go.Figure:
    """Per day, the accuracy of the alert lead's forecasts: what the alerts judge."""
    settings = store.settings
    title = f"Accuracy per day, {ahead(settings.alert_lead)}"
    daily = views.daily_accuracy(store)
    return figures.accuracy_figure(daily, settings.mape_warn, settings.mape_alert, title)


def models_page(store: DashboardStore) -> html.Div:
    return models.layout(store)


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
        Page("models", "/models", "Models", models_page),
    )
}


def nav() -> dbc.Nav:
    return dbc.Nav(
        [dbc.NavItem(dbc.NavLink(p.title, href=p.path, active="exact")) for p in PAGES.values()],
        pills=True,
        className="flex-wrap border-bottom pb-2",
        id="nav",
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
        view = views.forecast_view(store, chosen, views.parse_day(day))
    except views.BadRequest as exc:
        return go.Figure(), "", str(exc), BANNER
    shown = day if view.first.isoformat() == day else f"{view.first} to {day}"
    title = views.series_title(chosen)
    figure = figures.forecast_figure(view.actuals, view.forecast, title, view.prices, shown)
    version = f"Model version: {view.model_uri}" if view.model_uri else ""
    if view.problems:
        return figure, version, " ".join(view.problems), BANNER
    return figure, version, "", HIDDEN


def _pct(value: Any) -> float | None:
    """Percentages (22.78 for 0.2278): the tables show "22.8 %" and filter on "> 10"."""
    return round(float(value) * 100, 4) if pd.notna(value) else None


def update_accuracy(
    store: DashboardStore, area: str | None, lead: Any = None
) -> tuple[list[dict[str, Any]], go.Figure, list[dict[str, Any]]]:
    """Rows of the per-series table (newest day) and the heat map at one lead (the alert
    lead unless chosen), and the rows of the by-lead table, for one area or both."""
    chosen = lead if isinstance(lead, int) else store.settings.alert_lead
    by_lead = [
        {"lead_days": int(r["lead_days"]), "days": int(r["days"]), "mape": _pct(r["mape"]),
         "wape": _pct(r["wape"]), "bias": _pct(r["bias"])}
        for r in views.lead_accuracy(store, area).to_dict("records")
    ]  # fmt: skip
    series = views.series_accuracy(store, area, chosen)
    if series.empty:
        return [], go.Figure(), by_lead
    newest = series[series["day"] == series["day"].max()].sort_values("mape", ascending=False)
    rows = [
        {
            "series": r.series,
            "day": str(r.day)[:10],
            "mape": _pct(r.mape),
            "wape": _pct(r.wape),
            "bias": _pct(r.bias),
            "actual_kwh": round(float(r.actual_kwh), 1) if pd.notna(r.actual_kwh) else None,
        }
        for r in newest.itertuples()
    ]
    heatmap = figures.heatmap_figure(series, f"MAPE per series and day, {ahead(chosen)}")
    return rows, heatmap, by_lead
