"""Forecasting: features, hyperparameters, weekly models behind their gate, predictions."""
