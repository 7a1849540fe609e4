# The dashboard on Cloud Run, as the read-only service account.
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
      image   = local.image
      command = ["gunicorn", "dash_app.app:server", "-b", "0.0.0.0:8050", "-w", "2"]
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
      liveness_probe {
        http_get {
          path = "/_dash-layout"
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}
