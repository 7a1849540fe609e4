# Least privilege: the pipeline writes the bucket and uses Cloud SQL; the dashboard only reads.
resource "google_service_account" "pipeline" {
  account_id   = "${var.name}-pipeline"
  display_name = "Dagster pipeline (code server, daemon, run pods)"
}

resource "google_service_account" "dashboard" {
  account_id   = "${var.name}-dashboard"
  display_name = "Dashboard on Cloud Run (read-only)"
}

resource "google_storage_bucket_iam_member" "pipeline_writes_assets" {
  bucket = google_storage_bucket.assets.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.pipeline.email}"
}

resource "google_storage_bucket_iam_member" "dashboard_reads_assets" {
  bucket = google_storage_bucket.assets.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.dashboard.email}"
}

resource "google_project_iam_member" "pipeline_cloudsql_client" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.pipeline.email}"
}

resource "google_artifact_registry_repository_iam_member" "pipeline_pulls_images" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.pipeline.email}"
}

# Dagster's pods run as the Kubernetes service account "dagster" in namespace "dagster",
# which acts as the pipeline service account through Workload Identity.
resource "google_service_account_iam_member" "dagster_workload_identity" {
  service_account_id = google_service_account.pipeline.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[dagster/dagster]"
}
