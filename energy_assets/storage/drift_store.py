"""Where drift lives in storage besides the asset's own parquet: each weekly model's drift
reference (a sample of its training features and the thresholds calibrated on it), and the
gzip-compressed Evidently HTML report of a day."""

from __future__ import annotations

import gzip
import json

from energy_assets import names
from energy_assets.domain.monitoring.drift import DriftReference
from energy_assets.storage.objects import ObjectNotFound, Storage, object_key

REPORT_SUFFIX = "html.gz"


def report_key(day: str) -> str:
    return object_key(names.DRIFT, day, REPORT_SUFFIX)


def _reference_keys(week: str, version: str) -> tuple[str, str]:
    """Keyed by model version as well: a retrain never pairs one version's sample with
    another's thresholds, whatever it was interrupted by."""
    return (
        object_key(names.DRIFT_REFERENCES, f"{week}/{version}", "parquet"),
        object_key(names.DRIFT_REFERENCES, f"{week}/{version}", "json"),
    )


def save_reference(storage: Storage, week: str, version: str, reference: DriftReference) -> None:
    """Store the reference of the week's model version."""
    sample, meta = _reference_keys(week, version)
    storage.write_parquet(sample, reference.features)
    body = {"thresholds": reference.thresholds}
    storage.write_bytes(meta, json.dumps(body, sort_keys=True).encode(), "application/json")


def load_reference(storage: Storage, week: str, version: str) -> DriftReference | None:
    """The stored reference of the week's model version, or None."""
    sample, meta = _reference_keys(week, version)
    try:
        thresholds = dict(json.loads(storage.read_bytes(meta))["thresholds"])
        return DriftReference(storage.read_parquet(sample), thresholds)
    except ObjectNotFound:
        return None


def save_report(storage: Storage, day: str, compressed_html: bytes) -> str:
    """Store a day's compressed report; its URI."""
    storage.write_bytes(report_key(day), compressed_html, "application/gzip")
    return storage.uri(report_key(day))


def report_html(storage: Storage, day: str) -> bytes | None:
    """A day's report as HTML, or None when none is stored."""
    try:
        return gzip.decompress(storage.read_bytes(report_key(day)))
    except ObjectNotFound:
        return None

