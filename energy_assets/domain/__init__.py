"""Domain code: data formats and rules, sources, forecasting, monitoring, the model registry.

Nothing here imports Dagster; the definitions in `energy_assets.defs` are thin layers over it.
"""
