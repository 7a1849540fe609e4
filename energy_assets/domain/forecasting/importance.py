"""The feature-importance figure logged with each version's MLflow run."""

from __future__ import annotations

from typing import Any

import pandas as pd


def importance_figure(importance: pd.Series) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = importance.head(25)[::-1]
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.barh(list(top.index), top.to_numpy(dtype="float64"))
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance")
    fig.tight_layout()
    return fig
