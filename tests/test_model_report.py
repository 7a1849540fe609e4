"""The model report: rendered for a model trained on the real DE35 slice, self-contained, its
decisions block rewritten safely, stored beside the model and served by the dashboard."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from energy_assets.defs.forecasting.model_report import report_input
from energy_assets.domain.forecasting import metrics
from energy_assets.domain.forecasting.feature_names import FEATURE_LABELS, label
from energy_assets.domain.forecasting.features import NUMERIC
from energy_assets.domain.forecasting.gate import gate_verdict
from energy_assets.domain.forecasting.model import DEFAULT_PARAMS, P10, P90, PREDICTION, predict
from energy_assets.domain.forecasting.record import ModelRecord
from energy_assets.domain.forecasting.report import (
    DECISIONS_END,
    DECISIONS_START,
    NO_DECISION,
    SECTIONS,
    ChampionComparison,
    render_report,
    section_ids,
    with_decisions,
)
from energy_assets.domain.forecasting.training import WeeklyModel, train_weekly_model
from energy_assets.domain.schema import SERIES, VALUE
from energy_assets.settings import load_dashboard_settings
from energy_assets.storage.model_reports import (
    list_reports,
    load_report,
    newest_report,
    report_key,
    save_report,
)
from energy_assets.storage.objects import LocalStorage, storage_from_settings

WEEK = "2023-01-16"


# --- the report of a real-slice model ----------------------------------------------------------


@pytest.fixture(scope="module")
def real_model(de35_parquet: Path) -> tuple[WeeklyModel, ModelRecord, pd.DataFrame]:
    """The model of week 2023-01-16 on the three weeks of the real slice before it (fewer
    boosting rounds than shipped, to keep the test short)."""
    from energy_assets.domain.sources.files import read_consumption_file

    week = pd.Timestamp(WEEK, tz="UTC")
    raw = read_consumption_file(de35_parquet)
    raw = raw[raw["datetime_utc"] < week].reset_index(drop=True)
    params = {**DEFAULT_PARAMS, "num_boost_round": 100}
    trained = train_weekly_model(raw, week, training_weeks=3, validation_days=7, params=params)
    record = ModelRecord(
        week=WEEK,
        model_name="energy-consumption-forecast",
        model_version="2",
        model_uri="models:/energy-consumption-forecast/2",
        mlflow_run_id="0123abcd",
        train_start=trained.train_start.date(),
        train_end=week.date(),
        valid_start=trained.valid_start.date(),
        params=params,
        validation=trained.validation,
        forecasts_finite_non_negative=trained.forecasts_finite_non_negative,
    )
    return trained, record, raw


@pytest.fixture(scope="module")
def real_report(real_model: tuple[WeeklyModel, ModelRecord, pd.DataFrame]) -> str:
    trained, record, raw = real_model
    # A stand-in champion: the served refit, which saw the validation days.
    champion = ChampionComparison(
        "models:/energy-consumption-forecast/1",
        forecast=predict(trained.model, trained.validation_features)[PREDICTION].to_numpy(),
        note="The champion trained on some of these validation days.",
    )
    report = render_report(report_input(trained, record, raw, champion))
    print(f"\nreal-slice report: {len(report) / 1e6:.2f} MB")
    return report


class _Resources(HTMLParser):
    """Every attribute that can make a browser fetch something, and each tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action") and value:
                self.links.append((tag, name, value))


def external_resources(page: str) -> list[str]:
    parser = _Resources()
    parser.feed(page)
    found = [
        f"<{tag} {name}={value!r}>"
        for tag, name, value in parser.links
        if value.strip().lower().startswith(("http:", "https:", "//"))
    ]
    found += [f"<{t}>" for t in parser.tags if t in ("link", "iframe", "object", "embed")]
    lowered = page.lower()
    found += [needle for needle in ("@import", "url(http", "url(//") if needle in lowered]
    return found


def metric_value(page: str, name: str) -> float:
    [value] = re.findall(rf'data-metric="{re.escape(name)}" data-value="([^"]+)"', page)
    return float(value)


def section(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}">')
    return page[start : page.index("</section>", start)]


@pytest.mark.realdata
def test_the_report_of_a_real_slice_model_has_every_section_with_real_content(
    real_model: tuple[WeeklyModel, ModelRecord, pd.DataFrame], real_report: str
) -> None:
    trained, record, _ = real_model
    page = real_report
    assert section_ids(page) == list(SECTIONS)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")

    # Training window and data.
    training = section(page, "training")
    assert "2022-12-26 .. 2023-01-15" in training and "2023-01-09" in training
    assert "<td>Series</td><td>76</td>" in training

    # Pooled metrics: exactly the recorded validation metrics, model and both baselines.
    for forecaster in ("model", "naive_24h", "naive_168h"):
        for metric in ("wape", "mape_median", "mape_mean", "bias"):
            expected = record.validation[forecaster][metric]
            assert metric_value(page, f"{forecaster}-{metric}") == pytest.approx(expected, 1e-9)
    assert section(page, "metrics").count("<tr>") >= 76 + 4  # every series, every metric

    # The worst series are real series, worst MAPE first.
    frame = trained.validation_frame
    mape = {str(name): metrics.mape(g[VALUE], g[PREDICTION]) for name, g in frame.groupby(SERIES)}
    worst = re.findall(r'<h3 class="series-name">([^<]+)</h3>', section(page, "worst-series"))
    assert len(worst) == 6 and set(worst) <= set(mape)
    assert worst == sorted(mape, key=lambda s: -mape[s])[:6]
    assert section(page, "worst-series").count("Plotly.newPlot") == 6

    assert section(page, "residuals").count("Plotly.newPlot") == 2

    # Coverage of the band: a share, the one the validation rows give.
    coverage = float(re.findall(r'id="coverage-value" data-value="([^"]+)"', page)[0])
    inside = ((frame[VALUE] >= frame[P10]) & (frame[VALUE] <= frame[P90])).mean()
    assert 0.0 <= coverage <= 1.0 and coverage == pytest.approx(inside, abs=1e-6)
    assert 0.5 < coverage < 0.95

    # Importance in plain words.
    top = str(trained.model.feature_importance().index[0])
    assert label(top) != top and label(top).replace("'", "&#x27;") in section(page, "importance")

    # The gate's verdict is the gate's own function on the recorded metrics.
    passed, problems = gate_verdict(record.validation, record.forecasts_finite_non_negative)
    gate = section(page, "gate")
    assert f'id="gate-verdict">{"passed" if passed else "failed"}<' in gate
    assert gate.count('class="reason"') == len(problems)

    # Against the champion on the same days.
    champion = section(page, "champion")
    assert "models:/energy-consumption-forecast/1" in champion
    assert 0 < metric_value(page, "champion-wape") < 1
    assert metric_value(page, "new-wape") == pytest.approx(record.validation["model"]["wape"])

    # No decision yet.
    block = page[page.index(DECISIONS_START) : page.index(DECISIONS_END)]
    assert NO_DECISION in block


@pytest.mark.realdata
def test_the_real_slice_report_loads_nothing_from_the_network(real_report: str) -> None:
    assert external_resources(real_report) == []
    # plotly.js is inlined once, and every figure draws with it.
    figures = real_report.count('class="plotly-graph-div"')
    assert figures == 10 and real_report.count("<script") == figures + 1
    assert "<script src" not in real_report and "cdn.plot.ly/plotly" not in real_report


def test_the_resource_check_finds_what_a_page_would_fetch() -> None:
    page = (
        '<link rel="stylesheet" href="https://x/y.css"><script src="//cdn/p.js"></script>'
        '<img src="http://x/i.png"><style>@import "a.css"</style><a href="#gate">gate</a>'
    )
    assert len(external_resources(page)) == 5
    assert external_resources('<a href="#training">t</a><img src="data:image/png;base64,x">') == []


# --- decisions -----------------------------------------------------------------------------------


def test_with_decisions_replaces_the_block_and_escapes_every_value() -> None:
    page = f"<html><body>before {DECISIONS_START}<p>{NO_DECISION}</p>{DECISIONS_END} after</html>"
    decisions = [
        {
            "version": "3",
            "decision": "approved",
            "by": "ann@example.com",
            "at": "2023-01-16T08:00:00+00:00",
            "reason": "<script>alert('x')</script> & \"quoted\"",
        },
        {"version": "4", "decision": "rejected", "by": "<b>bob</b>", "at": "", "reason": "worse"},
    ]
    out = with_decisions(page, decisions)
    assert NO_DECISION not in out
    assert "<script>" not in out and "<b>bob</b>" not in out
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in out
    assert "&lt;b&gt;bob&lt;/b&gt;" in out and "approved" in out and "rejected" in out
    assert out.startswith("<html><body>before ") and out.endswith(" after</html>")
    assert out.count(DECISIONS_START) == 1 and out.count(DECISIONS_END) == 1
    # Replaces, never appends: a second call shows only its own decisions.
    again = with_decisions(out, decisions[1:])
    assert "approved" not in again and again.count("<tr>") == 2  # header and one decision
    assert NO_DECISION in with_decisions(again, [])


def test_with_decisions_refuses_a_page_without_the_block() -> None:
    with pytest.raises(ValueError, match="no decisions block"):
        with_decisions("<html></html>", [{"version": "1"}])


@pytest.mark.realdata
def test_decisions_fit_into_the_real_report(real_report: str) -> None:
    decided = with_decisions(
        real_report, [{"version": "2", "decision": "approved", "by": "ann", "at": "now"}]
    )
    assert section_ids(decided) == list(SECTIONS)
    assert NO_DECISION not in section(decided, "decisions")
    assert len(decided) - len(real_report) < 2000


# --- feature names -------------------------------------------------------------------------------


def test_every_model_feature_has_a_plain_name_and_unknown_ones_are_described() -> None:
    assert all(f in FEATURE_LABELS for f in NUMERIC)
    assert label("r_lag96") == (
        "Consumption at the same hour 4 days before, relative to the series' level"
    )
    assert "last 12 hours" in label("r_mean_12h")
    assert label("price_lag24") == "Price at the same hour 1 day before"
    assert label("something_else") == "something_else"


# --- storage and the dashboard -------------------------------------------------------------------


def test_reports_are_stored_beside_the_model_partition(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert newest_report(storage) is None and load_report(storage, WEEK, "1") is None
    uri = save_report(storage, WEEK, "2", "<html>v2</html>")
    save_report(storage, WEEK, 10, "<html>v10</html>")
    save_report(storage, "2023-01-09", "1", "<html>v1</html>")
    storage.write_bytes(f"forecast_model/{WEEK}.json", b"{}")  # the record itself
    assert report_key(WEEK, 2) == f"forecast_model/{WEEK}/report-v2.html"
    assert Path(uri) == tmp_path / "forecast_model" / WEEK / "report-v2.html"
    assert load_report(storage, WEEK, "2") == "<html>v2</html>"
    assert list_reports(storage) == [("2023-01-09", "1"), (WEEK, "2"), (WEEK, "10")]
    assert newest_report(storage) == (WEEK, "10", storage.uri(report_key(WEEK, "10")))
    for week, version in (("../x", "1"), (WEEK, "1/../2"), (WEEK, "v1")):
        with pytest.raises(ValueError):
            report_key(week, version)


def test_the_dashboard_serves_a_stored_report(tmp_path: Path) -> None:
    from dash_app.app import create_app
    from dash_app.store import DashboardStore

    settings = load_dashboard_settings(
        storage_dir=tmp_path / "storage", state_dir=tmp_path / "state"
    )
    storage = storage_from_settings(settings)
    save_report(storage, WEEK, "3", "<!DOCTYPE html><html>report of v3</html>")
    client: Any = create_app(settings, DashboardStore.from_settings(settings)).server.test_client()

    answer = client.get(f"/reports/model/{WEEK}/3")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert b"report of v3" in answer.data
    assert client.get(f"/reports/model/{WEEK}/4").status_code == 404
    assert client.get("/reports/model/2023-01-09/3").status_code == 404
    for bad in ("2023-1-16/3", f"{WEEK}/v3", f"{WEEK}/0", f"{WEEK}/3.0", f"{WEEK}/03"):
        answer = client.get(f"/reports/model/{bad}")
        assert answer.status_code == 400, bad
        assert b"report of" not in answer.data
    assert b"report of" not in client.get("/reports/model/..%2F..%2Fx/3").data
    assert client.get(f"/reports/model/{WEEK}/abc").status_code == 400
    assert client.get("/reports/model/not-a-week/3").status_code == 400
