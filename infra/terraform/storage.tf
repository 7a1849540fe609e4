# The asset store: one parquet file per partition under gs://<bucket>/<prefix>/<asset>/.
resource "google_storage_bucket" "assets" {
  name                        = "${var.project_id}-${var.name}-assets"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # A rematerialized partition replaces its object; the previous version stays recoverable.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_versions_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # Old raw and feature partitions are read only by backfills: keep them, cheaply.
  lifecycle_rule {
    condition {
      age            = var.raw_archive_after_days
      matches_prefix = ["${var.gcs_prefix}/raw_consumption/", "${var.gcs_prefix}/consumption_features/"]
      with_state     = "LIVE"
    }
    action {
      type          = "SetStorageClass"
      storage_class = "ARCHIVE"
    }
  }

  # Evidently reports are large (~5 MB a day) and only useful while recent.
  lifecycle_rule {
    condition {
      age            = 180
      matches_prefix = ["${var.gcs_prefix}/feature_drift/"]
      matches_suffix = [".html"]
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}
