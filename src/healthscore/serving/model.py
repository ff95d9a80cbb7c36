"""Where the model artifact lived before :mod:`healthscore.model`: models registered by earlier
versions were pickled with this module path, so it keeps their classes importable. New code
imports :mod:`healthscore.model.artifact`."""

from healthscore.model.artifact import (  # noqa: F401 - re-exported for old pickles
    FeatureMeta,
    HealthModel,
    ProbabilityMap,
    RawModel,
    health_from_probability,
)
