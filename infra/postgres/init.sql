-- One server, two databases: Dagster's runs, events and schedules, and MLflow's tracking store.
CREATE DATABASE dagster;
CREATE DATABASE mlflow;
