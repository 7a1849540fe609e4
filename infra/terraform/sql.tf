# PostgreSQL for Dagster's run, event and schedule storage and for MLflow's tracking store.
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
      ipv4_enabled = false
      ssl_mode     = "ENCRYPTED_ONLY"
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_sql_database" "dagster" {
  name     = "dagster"
  instance = google_sql_database_instance.postgres.name
}

resource "google_sql_database" "mlflow" {
  name     = "mlflow"
  instance = google_sql_database_instance.postgres.name
}

resource "random_password" "db" {
  length  = 32
  special = false
}

resource "google_sql_user" "energy" {
  name     = "energy"
  instance = google_sql_database_instance.postgres.name
  password = random_password.db.result
}
