-- First start of the compose stack's PostgreSQL (docker-entrypoint-initdb.d, run by psql as the
-- superuser): one server, two databases, each owned by its own login role, so Dagster's runs,
-- events and schedules and MLflow's tracking store never share a password. The passwords come
-- from the container's environment (DAGSTER_PG_PASSWORD, MLFLOW_PG_PASSWORD; psql 15's \getenv);
-- an unset one leaves the variable unset and the statement fails, which fails the start.
\set ON_ERROR_STOP on
\getenv dagster_password DAGSTER_PG_PASSWORD
\getenv mlflow_password MLFLOW_PG_PASSWORD

CREATE ROLE dagster LOGIN PASSWORD :'dagster_password';
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_password';

CREATE DATABASE dagster OWNER dagster;
CREATE DATABASE mlflow OWNER mlflow;

-- Only the owner (and the superuser) may connect to each database.
REVOKE ALL ON DATABASE dagster FROM PUBLIC;
REVOKE ALL ON DATABASE mlflow FROM PUBLIC;
