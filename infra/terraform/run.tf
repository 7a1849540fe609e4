# The dashboard on Cloud Run, as the read-only service account. Only the members of
# var.dashboard_invokers may call it: Cloud Run checks their Google identity (IAM, role
# run.invoker) before a request reaches the container. So the app's own sign-in is off here
# (ENERGY_DASHBOARD_AUTH=none); the compose stack, which has no IAM in front, turns it on.
resource "google_cloud_run_v2_service" "dashboard" {
  name     = "${var.name}-dashboard"
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL"

  template {
    service_account = google_service_account.dashboard.email
    scaling {
      max_instance_count = var.dashboard_max_instances
    }
    containers {
      image = local.image
      # Bind address, workers, timeouts and request limits: dash_app/gunicorn_config.py.
      command = ["gunicorn", "-c", "python:dash_app.gunicorn_config", "dash_app.app:server"]
      ports {
        container_port = 8050
      }
      env {
        name  = "ENERGY_GCS_BUCKET"
        value = google_storage_bucket.assets.name
      }
      env {
        name  = "ENERGY_GCS_PREFIX"
        value = var.gcs_prefix
      }
      env {
        name  = "ENERGY_GCS_PROJECT"
        value = var.project_id
      }
      env {
        # IAM (google_cloud_run_v2_service_iam_member.dashboard_invokers) guards the service.
        name  = "ENERGY_DASHBOARD_AUTH"
        value = "none"
      }
      # Liveness of the server only: /api/health answers 503 until the first forecast exists,
      # and with the app's sign-in off the layout route is always 200.
      liveness_probe {
        http_get {
          path = "/_dash-layout"
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}

# Who may open the dashboard: named groups, people or service accounts, never everyone
# (var.dashboard_invokers refuses the public members).
resource "google_cloud_run_v2_service_iam_member" "dashboard_invokers" {
  for_each = toset(var.dashboard_invokers)
  project  = google_cloud_run_v2_service.dashboard.project
  location = google_cloud_run_v2_service.dashboard.location
  name     = google_cloud_run_v2_service.dashboard.name
  role     = "roles/run.invoker"
  member   = each.value
}
