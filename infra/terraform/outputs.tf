output "bucket" {
  description = "Asset bucket; set ENERGY_GCS_BUCKET to it."
  value       = google_storage_bucket.assets.name
}

output "image_repository" {
  description = "Artifact Registry path to push the project image to."
  value       = split(":", local.image)[0]
}

output "dashboard_url" {
  description = "URL of the dashboard on Cloud Run (only var.dashboard_invokers may call it)."
  value       = google_cloud_run_v2_service.dashboard.uri
}

output "sql_private_ip" {
  description = "Private IP of the Cloud SQL instance, reachable from the VPC only."
  value       = google_sql_database_instance.postgres.private_ip_address
}

output "db_password_secrets" {
  description = "Secret Manager secrets holding the database passwords (names only), by database user."
  value       = { for user, secret in google_secret_manager_secret.db_password : user => secret.id }
}

output "pipeline_service_account" {
  description = "Service account of the Dagster pods and the MLflow server (writes the bucket)."
  value       = google_service_account.pipeline.email
}

output "dashboard_service_account" {
  description = "Service account of the dashboard (reads the bucket)."
  value       = google_service_account.dashboard.email
}
