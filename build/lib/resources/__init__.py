"""Dagster resources and the storage layer they share with the dashboard."""
