# PostgreSQL for Dagster's run, event and schedule storage and for MLflow's tracking store, on a
# private IP of the VPC only (network.tf): no public address, TLS required.
resource "google_sql_database_instance" "postgres" {
  name                = "${var.name}-postgres"
  database_version    = "POSTGRES_15"
  region              = var.region
  deletion_protection = true

  settings {
    tier              = var.db_tier
    availability_type = "REGIONAL"
    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
    }
    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.vpc.id
      ssl_mode        = "ENCRYPTED_ONLY"
    }
  }

  # The private IP needs the peering to exist first.
  depends_on = [google_project_service.apis, google_service_networking_connection.sql]
}

locals {
  # One database and one login per consumer: Dagster and MLflow never share a password.
  db_users = toset(["dagster", "mlflow"])
}

resource "google_sql_database" "dagster" {
  name     = "dagster"
  instance = google_sql_database_instance.postgres.name
}

resource "google_sql_database" "mlflow" {
  name     = "mlflow"
  instance = google_sql_database_instance.postgres.name
}

# Letters and digits only: the password goes into connection URIs unescaped.
resource "random_password" "db" {
  for_each = local.db_users
  length   = 32
  special  = false
}

resource "google_sql_user" "db" {
  for_each = local.db_users
  name     = each.key
  instance = google_sql_database_instance.postgres.name
  password = random_password.db[each.key].result
}
