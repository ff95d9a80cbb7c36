"""Where the health bands lived before :mod:`healthscore.model`: models registered by earlier
versions were pickled with this module path, so it keeps ``Band`` importable. New code imports
:mod:`healthscore.model.bands`."""

from healthscore.model.bands import Band  # noqa: F401 - re-exported for old pickles
