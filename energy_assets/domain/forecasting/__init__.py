"""Pure forecasting code: features, model, baselines, metrics, backtest. No Dagster imports."""
