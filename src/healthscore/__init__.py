"""healthscore: point-in-time churn prediction and explainable customer health scores."""

__version__ = "0.1.0"
