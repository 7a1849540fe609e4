"""The assets' keys, derived from `energy_assets.names`, for Dagster APIs that take AssetKeys."""

import dagster as dg

from energy_assets import names

RAW, PRICES_KEY, FEATURES_KEY, PARAMS_KEY, MODEL_KEY, PREDICTIONS_KEY, MONITORING_KEY, DRIFT_KEY = (
    dg.AssetKey(name) for name in names.ASSETS
)
