"""The code location, as `dg` and `workspace.yaml` load it: the `energy_assets/defs` folder (one
folder per domain, each with its `@dg.definitions`), the location-wide policy applied once, the
resources and the executor."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg

import energy_assets.defs
from energy_assets.defs.loading import loading
from energy_assets.defs.policy import with_location_policy
from energy_assets.defs.run_health import heartbeat_in_process_executor
from energy_assets.settings import Settings, SettingsError, export_dotenv_secrets, load_settings
from resources.asset_storage import AssetStorage
from resources.mlflow_resource import MlflowResource
from resources.notifier import Notifier
from resources.parquet_io_manager import ParquetIOManager

# Single-run backfill policies, partitioned check specs, per-partition metadata and the defs
# folder's loader are the features this design rests on; Dagster labels them beta/preview,
# which would repeat in every run's log.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

# The dg project (pyproject.toml's [tool.dg]); in an installed image, the folder above the package.
PROJECT_ROOT = Path(energy_assets.defs.__file__).resolve().parents[2]


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    export_dotenv_secrets(settings)  # the resources below name their secrets as EnvVar
    storage = AssetStorage.from_settings(settings)
    with loading(settings):
        try:
            domains = dg.ComponentTree.from_module(
                defs_module=energy_assets.defs, project_root=PROJECT_ROOT
            ).build_defs()
        except Exception as exc:
            # The loader wraps what a domain raised in its tree of folders; a bad setting is
            # said as itself, naming the variable.
            if (bad := _settings_error(exc)) is not None:
                raise bad from None
            raise
    return dg.Definitions.merge(
        with_location_policy(domains, settings),
        dg.Definitions(
            resources={
                "asset_storage": storage,
                "parquet_io_manager": ParquetIOManager(asset_storage=storage),
                "mlflow_tracking": MlflowResource.from_settings(settings),
                "notifier": Notifier.from_settings(settings),
            },
            # Steps are cheap and vectorised; a process per step would cost seconds each. The
            # heartbeat lets run monitoring fail a run whose code server died under it.
            executor=heartbeat_in_process_executor,
        ),
    )


def _settings_error(exc: BaseException | None) -> SettingsError | None:
    while exc is not None and not isinstance(exc, SettingsError):
        exc = exc.__cause__ or exc.__context__
    return exc


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
