"""Ingestion: raw consumption, its data contract, the ingest job and schedule."""
