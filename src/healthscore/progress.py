"""The progress callback every long step takes: ``progress(step, done, total)``.

The CLI passes one that draws a bar; library code only calls it (or nothing, when None).
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
