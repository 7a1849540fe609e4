output "bucket" {
  description = "Asset bucket; set ENERGY_GCS_BUCKET to it."
  value       = google_storage_bucket.assets.name
}

output "image_repository" {
  description = "Artifact Registry path to push the project image to."
  value       = split(":", local.image)[0]
}

output "dashboard_url" {
  description = "Public URL of the dashboard on Cloud Run."
  value       = google_cloud_run_v2_service.dashboard.uri
}

output "sql_connection_name" {
  description = "Cloud SQL instance connection name (for the Cloud SQL Auth Proxy)."
  value       = google_sql_database_instance.postgres.connection_name
}

output "pipeline_service_account" {
  description = "Service account of the Dagster pods (writes the bucket)."
  value       = google_service_account.pipeline.email
}

output "dashboard_service_account" {
  description = "Service account of the dashboard (reads the bucket)."
  value       = google_service_account.dashboard.email
}
