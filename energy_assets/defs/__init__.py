"""Dagster definitions, grouped by domain; thin layers over `energy_assets.domain`."""
