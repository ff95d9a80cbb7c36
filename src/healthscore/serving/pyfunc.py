"""Where the MLflow pyfunc wrapper lived before :mod:`healthscore.model`: a registered model
pickles its ``python_model`` with its class path, so models registered by earlier versions
load ``healthscore.serving.pyfunc.HealthScorePyfunc``. New code imports
:mod:`healthscore.model.pyfunc`. Imports mlflow: load it lazily."""

from healthscore.model.pyfunc import HealthScorePyfunc  # noqa: F401 - for registered models
