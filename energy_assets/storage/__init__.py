"""Storage of asset files and the alerts log, on a local folder or GCS; no Dagster imports."""
