"""The ensemble as one MLflow pyfunc: ``mlflow.pyfunc.load_model("models:/fraudlens@champion")``.

The pyfunc wraps a ``FraudModel`` folder logged as the artifact ``model_dir``;
``predict`` returns one fraud probability per input row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from fraudlens.model.ensemble import FraudModel

ARTIFACT_KEY = "model_dir"


class FraudLensPyfunc(PythonModel):
    """MLflow wrapper around ``FraudModel`` (loaded once per process)."""

    def __init__(self) -> None:
        self.model: FraudModel | None = None

    def load_context(self, context: Any) -> None:
        """Load the model folder that MLflow copied next to the MLmodel file."""
        self.model = FraudModel.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        """Fraud probability for each row of ``model_input``."""
        if self.model is None:
            self.load_context(context)
        assert self.model is not None
        return self.model.predict(model_input)
