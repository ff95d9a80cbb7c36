"""The model artifact training builds and serving loads, importing neither: the fitted health
model with its calibrator, feature metadata and frozen bands (:mod:`.artifact`), the bands
(:mod:`.bands`), the drift reference (:mod:`.reference`), drivers in health points
(:mod:`.explain`) and the MLflow pyfunc wrapper (:mod:`.pyfunc`, imports mlflow: load it
lazily)."""
