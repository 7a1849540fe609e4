# The Dagster deployment: GKE Autopilot with Workload Identity, and the official Helm chart with
# the Kubernetes run launcher (one pod per run).
resource "google_container_cluster" "dagster" {
  name                = "${var.name}-dagster"
  location            = var.region
  enable_autopilot    = true
  deletion_protection = true

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  depends_on = [google_project_service.apis]
}

resource "helm_release" "dagster" {
  name             = "dagster"
  repository       = "https://dagster-io.github.io/helm"
  chart            = "dagster"
  version          = var.dagster_chart_version
  namespace        = "dagster"
  create_namespace = true

  values = [templatefile("${path.module}/../helm/dagster-values.yaml", {
    image_repository = split(":", local.image)[0]
    image_tag        = var.image_tag
    service_account  = google_service_account.pipeline.email
    bucket           = google_storage_bucket.assets.name
    gcs_prefix       = var.gcs_prefix
    project_id       = var.project_id
    sql_connection   = google_sql_database_instance.postgres.connection_name
  })]

  set_sensitive {
    name  = "postgresql.postgresqlPassword"
    value = random_password.db.result
  }
}
