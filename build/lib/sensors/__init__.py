"""Sensors and schedules of the code location: MAPE alerts, run failures, daily ingestion."""
