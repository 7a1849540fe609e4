# Least privilege: the pipeline writes the bucket and reads the MLflow database password
# (secrets.tf); the dashboard only reads the bucket. Cloud SQL is reached on its private IP with
# a database password, so no Cloud SQL IAM role is needed.
resource "google_service_account" "pipeline" {
  account_id   = "${var.name}-pipeline"
  display_name = "Dagster pipeline and MLflow server (code server, daemon, run pods)"
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

# objectViewer: storage.objects.get and storage.objects.list, no bucket metadata. The dashboard's
# storage health check lists at most one object (GCSStorage.ping), which this allows.
resource "google_storage_bucket_iam_member" "dashboard_reads_assets" {
  bucket = google_storage_bucket.assets.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.dashboard.email}"
}

resource "google_artifact_registry_repository_iam_member" "pipeline_pulls_images" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.pipeline.email}"
}

# Dagster's pods and the MLflow server run as the Kubernetes service account "dagster" in
# namespace "dagster", which acts as the pipeline service account through Workload Identity.
resource "google_service_account_iam_member" "dagster_workload_identity" {
  service_account_id = google_service_account.pipeline.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[dagster/dagster]"
}
