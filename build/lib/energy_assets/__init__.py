"""Day-ahead forecasting of Danish hourly electricity consumption as Dagster assets."""
