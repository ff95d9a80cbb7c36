"""Shared base for every configuration section: frozen, unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every config model: ``extra="forbid"`` so a typo is an error, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
