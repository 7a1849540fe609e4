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


def _reference_keys(week: str) -> tuple[str, str]:
    return (
        object_key(names.DRIFT_REFERENCES, week, "parquet"),
        object_key(names.DRIFT_REFERENCES, week, "json"),
    )


def save_reference(storage: Storage, week: str, model_uri: str, reference: DriftReference) -> None:
    """Store the week's reference; the thresholds name the model version they belong to."""
    sample, meta = _reference_keys(week)
    storage.write_parquet(sample, reference.features)
    body = {"model_uri": model_uri, "thresholds": reference.thresholds}
    storage.write_bytes(meta, json.dumps(body, sort_keys=True).encode(), "application/json")


def load_reference(storage: Storage, week: str, model_uri: str) -> DriftReference | None:
    """The week's stored reference if it belongs to `model_uri`, else None."""
    sample, meta = _reference_keys(week)
    try:
        body = json.loads(storage.read_bytes(meta))
        if body.get("model_uri") != model_uri:
            return None
        return DriftReference(storage.read_parquet(sample), dict(body["thresholds"]))
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

