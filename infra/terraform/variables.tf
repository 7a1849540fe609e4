variable "project_id" {
  description = "GCP project that holds everything."
  type        = string
}

variable "region" {
  description = "Region of the bucket, Cloud SQL, Artifact Registry, Cloud Run and GKE."
  type        = string
  default     = "europe-north1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "energy"
}

variable "image_tag" {
  description = "Tag of the project image in Artifact Registry (built from infra/docker/Dockerfile)."
  type        = string
}

variable "gcs_prefix" {
  description = "Folder in the bucket under which the assets are stored (ENERGY_GCS_PREFIX)."
  type        = string
  default     = "energy"
}

variable "raw_archive_after_days" {
  description = "Age after which raw and feature partitions move to the ARCHIVE storage class."
  type        = number
  default     = 365
}

variable "noncurrent_versions_days" {
  description = "Days an overwritten (non-current) object version is kept before deletion."
  type        = number
  default     = 30
}

variable "db_tier" {
  description = "Cloud SQL machine tier of the PostgreSQL instance (Dagster and MLflow)."
  type        = string
  default     = "db-custom-1-3840"
}

variable "dagster_chart_version" {
  description = "Version of the official Dagster Helm chart; keep it equal to the dagster package."
  type        = string
  default     = "1.13.27"
}

variable "dashboard_max_instances" {
  description = "Upper bound of Cloud Run instances of the dashboard."
  type        = number
  default     = 3
}
