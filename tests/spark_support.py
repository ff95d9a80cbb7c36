"""What every Spark test module needs before anything else (on ``pythonpath`` via pyproject)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_spark() -> None:
    """Skip the calling test module unless pyspark and a Java runtime are installed (the
    ``[spark]`` extra; CI installs both before the slow tier)."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs a Java runtime", allow_module_level=True)
