"""Monitoring: accuracy of served forecasts, feature drift, and the alerts they raise."""
