"""Monitoring of served forecasts: accuracy against actuals, feature drift, alert levels."""
