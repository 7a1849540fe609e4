# The MLflow tracking server that the Dagster code (helm/dagster-values.yaml) reaches at
# http://mlflow.dagster.svc.cluster.local:5000: the project image, as the Kubernetes service
# account "dagster" and so, through Workload Identity, as the pipeline service account (which
# writes the artifacts under gs://<bucket>/mlartifacts).
#
# Its database password never leaves Secret Manager except into this process: the entrypoint
# below reads the secret's latest version, puts the URI into MLFLOW_BACKEND_STORE_URI (which
# `mlflow server` reads) and replaces itself with `mlflow server <its arguments>`.
locals {
  mlflow_port       = 5000
  mlflow_entrypoint = <<-PYTHON
    import base64, os, sys, urllib.parse
    import google.auth
    from google.auth.transport.requests import AuthorizedSession
    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    url = "https://secretmanager.googleapis.com/v1/" + os.environ["MLFLOW_DB_PASSWORD_SECRET"] + "/versions/latest:access"
    response = AuthorizedSession(credentials).get(url, timeout=30)
    response.raise_for_status()
    password = base64.b64decode(response.json()["payload"]["data"]).decode()
    os.environ["MLFLOW_BACKEND_STORE_URI"] = "postgresql+psycopg2://{}:{}@{}:5432/{}?sslmode=require".format(
        os.environ["MLFLOW_DB_USER"], urllib.parse.quote(password, safe=""),
        os.environ["MLFLOW_DB_HOST"], os.environ["MLFLOW_DB_NAME"])
    os.execvp("mlflow", ["mlflow", "server", *sys.argv[1:]])
  PYTHON
}

resource "kubernetes_deployment_v1" "mlflow" {
  metadata {
    name      = "mlflow"
    namespace = kubernetes_namespace_v1.dagster.metadata[0].name
    labels    = { app = "mlflow" }
  }

  spec {
    replicas = 1
    selector {
      match_labels = { app = "mlflow" }
    }

    template {
      metadata {
        labels = { app = "mlflow" }
      }

      spec {
        # Created by the Dagster chart; bound to the pipeline service account (iam.tf).
        service_account_name = "dagster"

        container {
          name    = "mlflow"
          image   = local.image
          command = ["python", "-c", local.mlflow_entrypoint]
          args = [
            "--artifacts-destination", "gs://${google_storage_bucket.assets.name}/mlartifacts",
            "--host", "0.0.0.0",
            "--port", tostring(local.mlflow_port),
            "--workers", "2",
            "--allowed-hosts", "mlflow.dagster.svc.cluster.local:${local.mlflow_port},mlflow.dagster.svc:${local.mlflow_port},mlflow:${local.mlflow_port},localhost:${local.mlflow_port}",
          ]

          port {
            container_port = local.mlflow_port
          }

          env {
            name  = "MLFLOW_DB_PASSWORD_SECRET"
            value = google_secret_manager_secret.db_password["mlflow"].id
          }
          env {
            name  = "MLFLOW_DB_USER"
            value = google_sql_user.db["mlflow"].name
          }
          env {
            name  = "MLFLOW_DB_NAME"
            value = google_sql_database.mlflow.name
          }
          env {
            name  = "MLFLOW_DB_HOST"
            value = google_sql_database_instance.postgres.private_ip_address
          }

          resources {
            requests = { cpu = "500m", memory = "1Gi" }
          }

          readiness_probe {
            http_get {
              path = "/health"
              port = local.mlflow_port
              http_header {
                name  = "Host"
                value = "localhost:${local.mlflow_port}"
              }
            }
            period_seconds = 10
          }

          liveness_probe {
            http_get {
              path = "/health"
              port = local.mlflow_port
              http_header {
                name  = "Host"
                value = "localhost:${local.mlflow_port}"
              }
            }
            initial_delay_seconds = 30
            period_seconds        = 20
          }
        }
      }
    }
  }

  depends_on = [
    helm_release.dagster,
    google_secret_manager_secret_iam_member.pipeline_reads_mlflow_db_password,
    google_secret_manager_secret_version.db_password,
    google_sql_user.db,
  ]
}

resource "kubernetes_service_v1" "mlflow" {
  metadata {
    name      = "mlflow"
    namespace = kubernetes_namespace_v1.dagster.metadata[0].name
  }

  spec {
    selector = { app = "mlflow" }
    port {
      port        = local.mlflow_port
      target_port = local.mlflow_port
    }
  }
}
