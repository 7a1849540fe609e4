"""The served model's code (MLflow's models-from-code): MLflow runs this file to make the model
when it loads a version, rather than unpickling an object."""

from mlflow.models import set_model

from energy_assets.domain.served_forecaster import ForecasterModel

set_model(ForecasterModel())
