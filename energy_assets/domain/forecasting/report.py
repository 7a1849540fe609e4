"""The report of one model version: a single self-contained HTML file.

It shows what a person deciding on the version needs: the training window and data, the
validation metrics against both seasonal-naive baselines (pooled and per series), the series
where the model does worst with their forecast, actual and P10-P90 band, residuals by hour of
day and day of week, the band's coverage, the features the model leans on (in plain words), the
promotion gate's verdict and reasons, and how the version does against the current champion on
the same validation days. A block between `DECISIONS_START` and `DECISIONS_END` holds the
decisions people took on the version; `with_decisions` rewrites it.

Plotly draws the figures; plotly.js is inlined once, so the file loads nothing from the network.
Everything here is pure: the caller gathers the data (`ReportInput`) and stores the string.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from energy_assets.domain.calendar import LOCAL_TZ
from energy_assets.domain.forecasting import metrics
from energy_assets.domain.forecasting.baselines import BASELINES
from energy_assets.domain.forecasting.feature_names import label
from energy_assets.domain.forecasting.gate import JUDGED_METRICS
from energy_assets.domain.forecasting.model import P10, P90, PREDICTION
from energy_assets.domain.forecasting.training import SERVED_P10, SERVED_P90
from energy_assets.domain.schema import SERIES, TIME, VALUE, series_keys

DECISIONS_START = "<!-- decisions -->"
DECISIONS_END = "<!-- /decisions -->"
NO_DECISION = "No decision recorded (the promotion gate alone decides)"
DECISION_FIELDS = ("version", "decision", "by", "at", "reason")
SECTIONS = (
    "training",
    "metrics",
    "worst-series",
    "residuals",
    "coverage",
    "importance",
    "gate",
    "champion",
    "decisions",
)
WORST_SERIES = 6
TOP_FEATURES = 20
METRIC_NAMES = {
    "wape": "Pooled WAPE",
    "mape_median": "Median per-series MAPE",
    "mape_mean": "Mean per-series MAPE",
    "bias": "Pooled bias",
}
FORECASTER_NAMES = {
    "model": "This model",
    "naive_24h": "Seasonal naive: same hour yesterday",
    "naive_168h": "Seasonal naive: same hour last week",
    "champion": "Current champion",
}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ChampionComparison:
    """The champion's forecasts of the same validation rows (aligned with `ReportInput.frame`),
    or None with a note saying why there are none."""

    uri: str | None
    forecast: np.ndarray | None = None
    note: str | None = None


@dataclass(frozen=True)
class ReportInput:
    week: str
    model_name: str
    model_version: str
    model_uri: str
    mlflow_run_id: str
    train_start: dt.date
    train_end: dt.date  # first day not trained on
    valid_start: dt.date
    data_summary: Sequence[tuple[str, str]]  # (what, value) rows, see `describe_data`
    params: Mapping[str, Any]
    validation: Mapping[str, Mapping[str, float]]  # forecaster -> metric -> value, as recorded
    # One row per (series, validation hour): TIME, SERIES, VALUE (actual), PREDICTION, P10, P90
    # of the model judged on these days, optionally the served band (SERVED_P10/SERVED_P90),
    # and each baseline's forecast under its name in `baselines.BASELINES`.
    frame: pd.DataFrame = field(repr=False)
    importance: pd.Series = field(repr=False)  # feature -> total gain
    gate_passed: bool = False
    gate_reasons: Sequence[str] = ()
    champion: ChampionComparison | None = None
    band_widening: float = 0.0
    generated_at: str = ""


def describe_data(
    raw: pd.DataFrame, training_rows: int, validation_rows: int
) -> list[tuple[str, str]]:
    """Rows of the data summary: what the model saw and judged itself on."""
    times = raw[TIME] if len(raw) else pd.Series([], dtype="datetime64[ns, UTC]")
    values = raw[VALUE] if len(raw) else pd.Series([], dtype="float64")
    keys = series_keys(raw)
    n_series = len(raw.drop_duplicates(keys)) if keys and len(raw) else 0
    return [
        ("Series", f"{n_series}"),
        ("Raw data read", f"{_time(times.min())} .. {_time(times.max())} ({len(raw):,} rows)"),
        ("Missing or non-finite raw values", f"{int((~np.isfinite(values)).sum()):,}"),
        ("Total consumption read", f"{float(np.nansum(values)) / 1e6:,.1f} GWh"),
        ("Training rows (series x hours, after the row budget)", f"{training_rows:,}"),
        ("Validation rows (series x hours)", f"{validation_rows:,}"),
    ]


def render_report(data: ReportInput) -> str:
    """The whole report as one HTML document."""
    import plotly.offline

    frame = _prepared(data.frame)
    per_series = _per_series(frame)
    body = "\n".join(
        [
            _header(data),
            _training(data),
            _metrics(data, per_series),
            _worst_series(frame, per_series),
            _residuals(frame),
            _coverage(frame, data.band_widening),
            _importance(data.importance),
            _gate(data),
            _champion(data, frame),
            _section("decisions", "Decisions", f"{DECISIONS_START}{_no_decision()}{DECISIONS_END}"),
        ]
    )
    title = html.escape(f"Model report: {data.model_name} v{data.model_version} ({data.week})")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>'
        f"</head><body>{body}</body></html>\n"
    )


def with_decisions(report: str, decisions: Sequence[Mapping[str, str]]) -> str:
    """The report with its decisions block replaced by a table of `decisions` (keys: version,
    decision, by, at, reason; missing keys show empty), or the default text when there are none.
    Every value is escaped. Raises ValueError when the report has no decisions block."""
    start = report.find(DECISIONS_START)
    end = report.find(DECISIONS_END, start + len(DECISIONS_START)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise ValueError("the report has no decisions block to replace")
    if decisions:
        rows = [[str(d.get(k, "")) for k in DECISION_FIELDS] for d in decisions]
        block = _table([k.capitalize() for k in DECISION_FIELDS], rows, css="decisions")
    else:
        block = _no_decision()
    return report[: start + len(DECISIONS_START)] + block + report[end:]


# --- sections ------------------------------------------------------------------------------------


def _header(data: ReportInput) -> str:
    verdict = "passed" if data.gate_passed else "failed"
    nav = " ".join(f'<a href="#{s}">{_e(s)}</a>' for s in SECTIONS)
    return (
        f"<header><h1>{_e(data.model_name)} version {_e(data.model_version)}</h1>"
        f"<p>Week {_e(data.week)} &middot; <code>{_e(data.model_uri)}</code> &middot; MLflow run "
        f"<code>{_e(data.mlflow_run_id)}</code> &middot; promotion gate: "
        f'<span class="badge {verdict}">{verdict}</span>'
        + (f" &middot; generated {_e(data.generated_at)}" if data.generated_at else "")
        + "</p>"
        f"<nav>{nav}</nav></header>"
    )


def _training(data: ReportInput) -> str:
    window = [
        ("Trained on", f"{data.train_start} .. {data.train_end - dt.timedelta(days=1)} (UTC days)"),
        ("Validation days", f"{data.valid_start} .. {data.train_end - dt.timedelta(days=1)}"),
        ("Serves from", f"{data.train_end} (the week {data.week})"),
    ]
    params = sorted((str(k), str(v)) for k, v in data.params.items())
    return _section(
        "training",
        "Training window and data",
        "<p>The validation days were forecast by a model trained on the days before them; the "
        "served model was then refitted on every training day, validation days included.</p>"
        + _table(["", ""], [*window, *data.data_summary], css="facts")
        + "<details><summary>Hyperparameters</summary>"
        + _table(["Parameter", "Value"], params)
        + "</details>",
    )


def _metrics(data: ReportInput, per_series: pd.DataFrame) -> str:
    forecasters = [f for f in ("model", *BASELINES) if f in data.validation]
    rows = []
    for metric, name in METRIC_NAMES.items():
        cells = [name]
        for forecaster in forecasters:
            value = data.validation[forecaster].get(metric, math.nan)
            cells.append(_value_cell(value, f"{forecaster}-{metric}"))
        rows.append(cells)
    pooled = _table(["Metric", *(FORECASTER_NAMES[f] for f in forecasters)], rows, raw_cells=True)
    series_rows = [
        [
            _e(str(r[SERIES])),
            *(_value_cell(r[f"{f}_mape"]) for f in ("model", *BASELINES)),
            *(_value_cell(r[f"{f}_wape"]) for f in ("model", *BASELINES)),
            _e(f"{r['model_bias']:+.1%}") if np.isfinite(r["model_bias"]) else "",
        ]
        for _, r in per_series.iterrows()
    ]
    better = {b: int((per_series["model_mape"] < per_series[f"{b}_mape"]).sum()) for b in BASELINES}
    headers = [
        "Series",
        *(f"MAPE: {FORECASTER_NAMES[f]}" for f in ("model", *BASELINES)),
        *(f"WAPE: {FORECASTER_NAMES[f]}" for f in ("model", *BASELINES)),
        "Bias",
    ]
    counts = "; ".join(
        f"beats {FORECASTER_NAMES[b].lower()} on {n} of {len(per_series)} series (MAPE)"
        for b, n in better.items()
    )
    return _section(
        "metrics",
        "Validation metrics",
        "<p>Pooled WAPE weighs series by size; per-series MAPE treats each series alike. The "
        "gate judges both.</p>"
        + pooled
        + f"<h3>Per series</h3><p>The model {_e(counts)}. Sorted by this model's MAPE, worst "
        "first.</p>" + _table(headers, series_rows, raw_cells=True, css="wide"),
    )


def _worst_series(frame: pd.DataFrame, per_series: pd.DataFrame) -> str:
    worst = per_series.head(WORST_SERIES)
    parts = [
        f"<p>The {len(worst)} series with the highest MAPE of this model on the validation days, "
        "with the P10-P90 band of the model judged on them (before calibration).</p>"
    ]
    for _, row in worst.iterrows():
        name = str(row[SERIES])
        rows = frame[frame[SERIES] == name].sort_values(TIME)
        parts.append(
            f'<h3 class="series-name">{_e(name)}</h3><p>MAPE {_pct(row["model_mape"])}; '
            f"naive 24 h {_pct(row['naive_24h_mape'])}, naive 168 h "
            f"{_pct(row['naive_168h_mape'])}</p>"
            + _figure(partial(_series_figure, rows=rows, name=name))
        )
    return _section("worst-series", "Where the model is worst", "".join(parts))


def _series_figure(go: Any, *, rows: pd.DataFrame, name: str) -> Any:
    t = rows[TIME]
    fig = go.Figure()
    if P10 in rows and rows[P10].notna().any():
        fig.add_trace(go.Scatter(x=t, y=rows[P90], line={"width": 0}, name="P90", showlegend=False))
        fig.add_trace(
            go.Scatter(
                x=t,
                y=rows[P10],
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(31,119,180,0.2)",
                name="P10-P90",
            )
        )
    fig.add_trace(go.Scatter(x=t, y=rows[PREDICTION], name="forecast", line={"color": "#1f77b4"}))
    fig.add_trace(go.Scatter(x=t, y=rows[VALUE], name="actual", line={"color": "black"}))
    for baseline in BASELINES:
        if baseline in rows:
            fig.add_trace(
                go.Scatter(
                    x=t,
                    y=rows[baseline],
                    name=baseline,
                    line={"dash": "dot", "width": 1},
                    visible="legendonly",
                )
            )
    fig.update_layout(
        title=f"{name}: forecast vs actual (UTC)", yaxis_title="kWh", height=320, **_LAYOUT
    )
    return fig


def _residuals(frame: pd.DataFrame) -> str:
    local = frame[TIME].dt.tz_convert(LOCAL_TZ)
    by_hour = _grouped_errors(frame, local.dt.hour)
    by_day = _grouped_errors(frame, local.dt.dayofweek)
    by_day.index = [_DAYS[int(i)] for i in by_day.index]
    return _section(
        "residuals",
        "Residuals by hour of day and day of week",
        "<p>Pooled over all series in Danish local time: WAPE (size of the errors) and bias "
        "(positive: the model forecasts too much).</p>"
        + _figure(lambda go: _error_bars(go, by_hour, "Hour of day (local)"))
        + _figure(lambda go: _error_bars(go, by_day, "Day of week (local)")),
    )


def _grouped_errors(frame: pd.DataFrame, by: pd.Series) -> pd.DataFrame:
    rows = {
        key: {
            "wape": metrics.wape(g[VALUE], g[PREDICTION]),
            "bias": metrics.bias(g[VALUE], g[PREDICTION]),
        }
        for key, g in frame.groupby(by.to_numpy(), sort=True)
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def _error_bars(go: Any, errors: pd.DataFrame, axis: str) -> Any:
    x = [str(i) for i in errors.index]
    fig = go.Figure(
        [
            go.Bar(x=x, y=errors["wape"], name="WAPE"),
            go.Bar(x=x, y=errors["bias"], name="bias"),
        ]
    )
    fig.update_layout(
        xaxis_title=axis, yaxis_tickformat=".0%", barmode="group", height=320, **_LAYOUT
    )
    return fig


def _coverage(frame: pd.DataFrame, widening: float) -> str:
    if P10 not in frame or frame[P10].isna().all():
        return _section("coverage", "Interval coverage", "<p>The model has no P10/P90 band.</p>")
    raw = _band_shares(frame, P10, P90)
    rows = [["Quantile models judged on these days (out of sample)", *_shares(raw, "raw")]]
    served = None
    if SERVED_P10 in frame and frame[SERVED_P10].notna().any():
        served = _band_shares(frame, SERVED_P10, SERVED_P90)
        rows.append(["Served band (calibrated on these days)", *_shares(served, "served")])
    inside = (frame[VALUE] >= frame[P10]) & (frame[VALUE] <= frame[P90])
    per_series = inside.groupby(frame[SERIES], observed=True).mean()
    note = (
        f"The served band is widened by {widening:+.3f} in log space (split-conformal "
        "calibration on the validation days), so its coverage here is by construction."
        if served is not None
        else ""
    )
    return _section(
        "coverage",
        "Interval coverage (P10-P90)",
        "<p>The share of actual hours inside the P10-P90 band should be near 80%, with about "
        "10% below P10 and 10% above P90.</p>"
        + f'<p class="headline">Coverage: <span id="coverage-value" data-value="{raw[0]:.6f}">'
        f"{raw[0]:.1%}</span></p>"
        + _table(["Band", "Inside", "Below P10", "Above P90"], rows, raw_cells=True)
        + f"<p>{_e(note)}</p>"
        + _figure(lambda go: _coverage_histogram(go, per_series)),
    )


def _band_shares(frame: pd.DataFrame, low: str, high: str) -> tuple[float, float, float]:
    known = frame[[VALUE, low, high]].dropna()
    if known.empty:
        return (math.nan, math.nan, math.nan)
    below = float((known[VALUE] < known[low]).mean())
    above = float((known[VALUE] > known[high]).mean())
    return (1.0 - below - above, below, above)


def _shares(shares: tuple[float, float, float], name: str) -> list[str]:
    return [
        _value_cell(v, f"coverage-{name}-{part}") for v, part in zip(shares, _PARTS, strict=True)
    ]


_PARTS = ("inside", "below", "above")


def _coverage_histogram(go: Any, per_series: pd.Series) -> Any:
    fig = go.Figure(
        go.Histogram(x=per_series.to_numpy(), xbins={"start": 0, "end": 1.0001, "size": 0.05})
    )
    fig.add_vline(x=0.8, line_dash="dash")
    fig.update_layout(
        title="Coverage per series (quantile models judged on these days)",
        xaxis_title="share of hours inside P10-P90",
        xaxis_tickformat=".0%",
        yaxis_title="series",
        height=300,
        **_LAYOUT,
    )
    return fig


def _importance(importance: pd.Series) -> str:
    if importance.empty:
        return _section("importance", "Feature importance", "<p>No importance recorded.</p>")
    total = float(importance.sum()) or 1.0
    top = importance.sort_values(ascending=False).head(TOP_FEATURES)
    names = [label(str(f)) for f in top.index]
    rows = [
        [_e(n), f"<code>{_e(str(f))}</code>", _e(f"{float(v) / total:.1%}")]
        for n, f, v in zip(names, top.index, top.to_numpy(), strict=True)
    ]

    def figure(go: Any) -> Any:
        fig = go.Figure(
            go.Bar(
                x=(top.to_numpy(dtype="float64") / total)[::-1],
                y=names[::-1],
                orientation="h",
                hovertext=[str(f) for f in top.index[::-1]],
            )
        )
        fig.update_layout(
            xaxis_tickformat=".0%",
            xaxis_title="share of total gain",
            height=24 * len(top) + 120,
            **{**_LAYOUT, "margin": {"l": 420, "r": 20, "t": 30, "b": 40}},
        )
        return fig

    return _section(
        "importance",
        "Feature importance",
        f"<p>The {len(top)} features the point model gains most from (share of total gain).</p>"
        + _figure(figure)
        + _table(["Feature", "Column", "Share of gain"], rows, raw_cells=True),
    )


def _gate(data: ReportInput) -> str:
    verdict = "passed" if data.gate_passed else "failed"
    rules = []
    for baseline in BASELINES:
        for metric in JUDGED_METRICS:
            model = data.validation.get("model", {}).get(metric, math.nan)
            other = data.validation.get(baseline, {}).get(metric, math.nan)
            ok = bool(np.isfinite(model) and model < other)
            rules.append(
                [
                    _e(f"{METRIC_NAMES[metric]} below {FORECASTER_NAMES[baseline].lower()}"),
                    _e(f"{_pct(model)} vs {_pct(other)}"),
                    _ok(ok),
                ]
            )
    reasons = (
        "<ul>" + "".join(f'<li class="reason">{_e(r)}</li>' for r in data.gate_reasons) + "</ul>"
        if data.gate_reasons
        else "<p>It beats both seasonal-naive baselines on pooled WAPE and median MAPE and its "
        "forecasts are finite and non-negative: it may serve.</p>"
    )
    return _section(
        "gate",
        "Promotion gate",
        f'<p class="headline">Verdict: <span class="badge {verdict}" id="gate-verdict">'
        f"{verdict}</span></p>"
        + reasons
        + _table(["Rule", "Values", "Met"], rules, raw_cells=True),
    )


def _champion(data: ReportInput, frame: pd.DataFrame) -> str:
    comparison = data.champion
    if comparison is None or comparison.forecast is None:
        note = comparison.note if comparison and comparison.note else "There is no champion yet."
        return _section("champion", "Against the current champion", f"<p>{_e(note)}</p>")
    both = frame.assign(champion=np.asarray(comparison.forecast, dtype="float64"))
    new = metrics.summary(both, VALUE, PREDICTION)
    old = metrics.summary(both, VALUE, "champion")
    rows = [
        [
            _e(name),
            _value_cell(new[m], f"new-{m}"),
            _value_cell(old[m], f"champion-{m}"),
            _ok(abs(new[m]) < abs(old[m])) if m == "bias" else _ok(new[m] < old[m]),
        ]
        for m, name in METRIC_NAMES.items()
    ]
    series = [
        (metrics.mape(g[VALUE], g[PREDICTION]), metrics.mape(g[VALUE], g["champion"]))
        for _, g in both.groupby(SERIES, observed=True)
    ]
    better = sum(1 for new_mape, old_mape in series if new_mape < old_mape)
    note = f"<p>{_e(comparison.note)}</p>" if comparison.note else ""
    return _section(
        "champion",
        "Against the current champion",
        f"<p>The current champion <code>{_e(comparison.uri or '')}</code> forecast the same "
        f"validation days. This version has the lower MAPE on {better} of {len(series)} "
        "series.</p>"
        + note
        + _table(
            ["Metric", "This version", "Champion", "This version better"], rows, raw_cells=True
        ),
    )


# --- helpers -------------------------------------------------------------------------------------


def _prepared(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out[TIME] = pd.to_datetime(out[TIME], utc=True)
    out[SERIES] = out[SERIES].astype(str)
    return out


def _per_series(frame: pd.DataFrame) -> pd.DataFrame:
    """MAPE and WAPE of the model and each baseline, and the model's bias, per series; worst
    MAPE of the model first."""
    forecasters = [f for f in ("model", *BASELINES) if f == "model" or f in frame]
    rows = []
    for name, g in frame.groupby(SERIES, sort=True):
        row: dict[str, Any] = {SERIES: name}
        for f in forecasters:
            column = PREDICTION if f == "model" else f
            row[f"{f}_mape"] = metrics.mape(g[VALUE], g[column])
            row[f"{f}_wape"] = metrics.wape(g[VALUE], g[column])
        row["model_bias"] = metrics.bias(g[VALUE], g[PREDICTION])
        rows.append(row)
    out = pd.DataFrame(rows)
    for f in ("model", *BASELINES):
        for m in ("mape", "wape"):
            if f"{f}_{m}" not in out:
                out[f"{f}_{m}"] = math.nan
    return out.sort_values("model_mape", ascending=False, na_position="last").reset_index(drop=True)


def _figure(build: Callable[[Any], Any]) -> str:
    import plotly.graph_objects as go

    fig = build(go)
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            config={"displaylogo": False, "responsive": True, "showLink": False},
        )
    )


def _section(section_id: str, title: str, content: str) -> str:
    return f'<section id="{section_id}"><h2>{_e(title)}</h2>{content}</section>'


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, raw_cells: bool = False, css: str = ""
) -> str:
    """A table; cells are escaped unless `raw_cells` (they are then already HTML)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw_cells else _e(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    cls = f' class="{_e(css)}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _value_cell(value: float, name: str | None = None) -> str:
    """A percentage, with its exact value in `data-value` (and `data-metric` when named)."""
    value = float(value)
    shown = _pct(value)
    exact = f"{value:.10g}" if np.isfinite(value) else "nan"
    named = f' data-metric="{_e(name)}"' if name else ""
    return f'<span class="num"{named} data-value="{exact}">{_e(shown)}</span>'


def _pct(value: float) -> str:
    return f"{value:.1%}" if np.isfinite(value) else "n/a"


def _ok(ok: bool) -> str:
    return '<span class="yes">yes</span>' if ok else '<span class="no">no</span>'


def _no_decision() -> str:
    return f'<p class="no-decision">{_e(NO_DECISION)}</p>'


def _time(value: Any) -> str:
    return "n/a" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC")


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def section_ids(report: str) -> list[str]:
    """The ids of the report's sections, in order (for checks and tests)."""
    return re.findall(r'<section id="([^"]+)"', report)


_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
    # Above the plot, right-aligned: clear of the axis labels and of the title on the left.
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 0 16px 48px; color: #222; }
header { border-bottom: 2px solid #ddd; margin-bottom: 16px; }
nav a { margin-right: 10px; font-size: 0.9em; }
section { margin: 28px 0; }
h2 { border-bottom: 1px solid #eee; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f4f4f4; }
table.wide { display: block; max-height: 420px; overflow: auto; }
.num { font-variant-numeric: tabular-nums; }
.badge { padding: 1px 8px; border-radius: 8px; color: white; }
.badge.passed { background: #2a7d2a; } .badge.failed { background: #b22; }
.yes { color: #2a7d2a; font-weight: 600; } .no { color: #b22; font-weight: 600; }
.headline { font-size: 1.15em; }
code { background: #f4f4f4; padding: 0 3px; }
"""
