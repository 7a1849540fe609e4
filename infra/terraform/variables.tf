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

variable "dashboard_invokers" {
  description = "Who may open the dashboard (Cloud Run invoker), e.g. [\"group:energy-team@example.com\"]. Groups, users or service accounts; never allUsers or allAuthenticatedUsers."
  type        = list(string)

  validation {
    condition = length(var.dashboard_invokers) > 0 && alltrue([
      for member in var.dashboard_invokers :
      can(regex("^(group|user|serviceAccount):[^@\\s]+@[^@\\s]+$", member))
    ])
    error_message = "dashboard_invokers takes group:, user: or serviceAccount: members (e-mail addresses); allUsers and allAuthenticatedUsers would make the dashboard public."
  }
}

variable "subnet_cidr" {
  description = "Primary range of the GKE subnetwork (nodes)."
  type        = string
  default     = "10.10.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range of the GKE subnetwork for pods (VPC-native)."
  type        = string
  default     = "10.16.0.0/14"
}

variable "services_cidr" {
  description = "Secondary range of the GKE subnetwork for Kubernetes services."
  type        = string
  default     = "10.20.0.0/20"
}
