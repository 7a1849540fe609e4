# The Dagster deployment: GKE Autopilot, VPC-native on the private network (network.tf), with
# Workload Identity, and the official Helm chart with the Kubernetes run launcher (one pod per
# run). Everything Kubernetes lives in the namespace "dagster".
resource "google_container_cluster" "dagster" {
  name                = "${var.name}-dagster"
  location            = var.region
  enable_autopilot    = true
  deletion_protection = true

  network    = google_compute_network.vpc.id
  subnetwork = google_compute_subnetwork.gke.id

  ip_allocation_policy {
    cluster_secondary_range_name  = google_compute_subnetwork.gke.secondary_ip_range[0].range_name
    services_secondary_range_name = google_compute_subnetwork.gke.secondary_ip_range[1].range_name
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  depends_on = [google_project_service.apis]
}

resource "kubernetes_namespace_v1" "dagster" {
  metadata {
    name = "dagster"
  }
}

# The chart reads Dagster's database password from this secret (global.postgresqlSecretName,
# key postgresql-password) instead of generating one from a value.
resource "kubernetes_secret_v1" "dagster_postgresql" {
  metadata {
    name      = "dagster-postgresql-secret"
    namespace = kubernetes_namespace_v1.dagster.metadata[0].name
  }
  data = {
    "postgresql-password" = data.google_secret_manager_secret_version.dagster_db_password.secret_data
  }
}

resource "helm_release" "dagster" {
  name             = "dagster"
  repository       = "https://dagster-io.github.io/helm"
  chart            = "dagster"
  version          = var.dagster_chart_version
  namespace        = kubernetes_namespace_v1.dagster.metadata[0].name
  create_namespace = false

  values = [templatefile("${path.module}/../helm/dagster-values.yaml", {
    image_repository = split(":", local.image)[0]
    image_tag        = var.image_tag
    service_account  = google_service_account.pipeline.email
    bucket           = google_storage_bucket.assets.name
    gcs_prefix       = var.gcs_prefix
    project_id       = var.project_id
    postgres_host    = google_sql_database_instance.postgres.private_ip_address
    postgres_secret  = kubernetes_secret_v1.dagster_postgresql.metadata[0].name
  })]

  depends_on = [google_sql_user.db, google_sql_database.dagster]
}
