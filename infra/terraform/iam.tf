# Least privilege: the pipeline writes the bucket and reads the MLflow database password
# (secrets.tf); the dashboard reads the bucket and may only append model decisions. Cloud SQL
# is reached on its private IP with a database password, so no Cloud SQL IAM role is needed.
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

# Approvals from the Models page append to the model decisions log: objectCreator (create
# only; no get, list, delete or overwrite) on objects under <prefix>/model_decisions/, nothing
# else. Its MLflow tags go through the MLflow server's REST API (MLFLOW_TRACKING_URI), never to
# the database or the artifact bucket directly. The dashboard as configured in run.tf has no
# sign-in of its own (ENERGY_DASHBOARD_AUTH=none) and no MLFLOW_TRACKING_URI, so it stays
# read-only: it takes decisions only from signed-in users (dash_app/models.py).
resource "google_storage_bucket_iam_member" "dashboard_appends_model_decisions" {
  bucket = google_storage_bucket.assets.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.dashboard.email}"
  condition {
    title       = "model-decisions-only"
    description = "Create objects under the model decisions log's prefix only"
    expression  = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.assets.name}/objects/${var.gcs_prefix}/model_decisions/\")"
  }
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
