"""The model artifact both training and serving use: the fitted health model with its
calibrator and feature metadata (:mod:`healthscore.model.artifact`) and the health bands
(:mod:`healthscore.model.bands`). It imports neither training nor serving."""
