# The database passwords live in Secret Manager. Terraform writes each one once; the consumers
# read it from there (mlflow.tf at container start, gke.tf into Dagster's Kubernetes secret), so
# no password appears in an output or a values file.
resource "google_secret_manager_secret" "db_password" {
  for_each  = local.db_users
  secret_id = "${var.name}-${each.key}-db-password"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "db_password" {
  for_each    = local.db_users
  secret      = google_secret_manager_secret.db_password[each.key].id
  secret_data = random_password.db[each.key].result
}

# The MLflow server runs as the pipeline service account (mlflow.tf) and reads its own password
# at start: that one secret, not the project's secrets. Dagster's password reaches its pods as a
# Kubernetes secret (gke.tf), so the pipeline account needs no access to it.
resource "google_secret_manager_secret_iam_member" "pipeline_reads_mlflow_db_password" {
  secret_id = google_secret_manager_secret.db_password["mlflow"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.pipeline.email}"
}

# Dagster's password as Secret Manager holds it now (a new version replaces it on the next apply).
data "google_secret_manager_secret_version" "dagster_db_password" {
  secret     = google_secret_manager_secret.db_password["dagster"].id
  depends_on = [google_secret_manager_secret_version.db_password]
}
