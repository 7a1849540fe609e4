"""Each model version's HTML report, stored beside the model's partition.

The record of a week's model is `forecast_model/<week>.json`; the report of each version
trained for that week is `forecast_model/<week>/report-v<version>.html`. A retrain adds a
version and so a report; it never overwrites another version's. Listing the asset's records
(keys ending in `.json`) does not see the reports.
"""

from __future__ import annotations

import re

from energy_assets import names
from energy_assets.storage.objects import ObjectNotFound, Storage

CONTENT_TYPE = "text/html; charset=utf-8"
_WEEK = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_VERSION = re.compile(r"^\d+$")
_KEY = re.compile(
    rf"^{names.MODEL}/(?P<week>\d{{4}}-\d{{2}}-\d{{2}})/report-v(?P<version>\d+)\.html$"
)


def report_key(week: str, version: str | int) -> str:
    """`forecast_model/<week>/report-v<version>.html`; refuses anything but a day and a number,
    so a caller's arguments can never name another object."""
    version = str(version)
    if not _WEEK.match(week):
        raise ValueError(f"not a week key (YYYY-MM-DD): {week!r}")
    if not _VERSION.match(version):
        raise ValueError(f"not a model version number: {version!r}")
    return f"{names.MODEL}/{week}/report-v{version}.html"


def save_report(storage: Storage, week: str, version: str | int, html: str) -> str:
    """Store (or replace) the report of a week's model version; its URI."""
    key = report_key(week, version)
    storage.write_bytes(key, html.encode("utf-8"), CONTENT_TYPE)
    return storage.uri(key)


def load_report(storage: Storage, week: str, version: str | int) -> str | None:
    """The stored report of a week's model version, or None."""
    try:
        return storage.read_bytes(report_key(week, version)).decode("utf-8")
    except ObjectNotFound:
        return None


def list_reports(storage: Storage) -> list[tuple[str, str]]:
    """(week, version) of every stored report, by week then version number."""
    found = []
    for key in storage.list_keys(names.MODEL):
        match = _KEY.match(key)
        if match:
            found.append((match["week"], match["version"]))
    return sorted(found, key=lambda wv: (wv[0], int(wv[1])))


def newest_report(storage: Storage) -> tuple[str, str, str] | None:
    """(week, version, URI) of the report of the newest version of the latest week, or None."""
    reports = list_reports(storage)
    if not reports:
        return None
    week, version = reports[-1]
    return week, version, storage.uri(report_key(week, version))
