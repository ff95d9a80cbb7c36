"""Relationship features from contacts: coverage, key roles and departures.

A contact's ``ended_at`` is masked unless it is before the snapshot, so "active" means
started before the snapshot and not known to have left.
"""

from __future__ import annotations

from healthscore.features.registry import Dimension, Direction, feature

H = Direction.HIGHER_IS_HEALTHIER
R = Direction.HIGHER_IS_RISKIER
REL = Dimension.RELATIONSHIP
ACTIVE = "t.ended_at IS NULL"


def _has_active_role(role: str) -> str:
    return f"CAST(coalesce(bool_or(t.role = '{role}' AND {ACTIVE}), FALSE) AS INTEGER)"


@feature(family="contacts", dimension=REL, direction=H, unit="contacts", fill=0,
         explain="{value:.0f} active contacts")
def active_contacts() -> str:
    """Contacts at the account who started before the snapshot and had not left."""
    return f"count(DISTINCT t.contact_id) FILTER (WHERE {ACTIVE})"


@feature(family="contacts", dimension=REL, direction=H, unit="departments", fill=0,
         explain="{value:.0f} departments engaged")
def departments_engaged() -> str:
    """Distinct departments among active contacts."""
    return f"count(DISTINCT t.department) FILTER (WHERE {ACTIVE})"


@feature(family="contacts", dimension=REL, direction=H, unit="flag", fill=0,
         explain="Executive sponsor in place: {value:.0f} (1 = yes)")
def has_executive_sponsor() -> str:
    """1 when an active contact has the executive_sponsor role."""
    return _has_active_role("executive_sponsor")


@feature(family="contacts", dimension=REL, direction=H, unit="flag", fill=0,
         explain="Champion in place: {value:.0f} (1 = yes)")
def has_champion() -> str:
    """1 when an active contact has the champion role."""
    return _has_active_role("champion")


@feature(family="contacts", dimension=REL, direction=R, unit="flag", fill=0,
         explain="Champion or executive sponsor left in the last 90 days: {value:.0f} (1 = yes)")
def key_contact_left_90d() -> str:
    """1 when a champion or executive sponsor left in the 90 days before the snapshot."""
    return (
        "CAST(coalesce(bool_or(t.role IN ('champion', 'executive_sponsor') "
        "AND t.ended_at >= s.snapshot_date - 90), FALSE) AS INTEGER)"
    )


@feature(family="contacts", dimension=REL, direction=R, unit="contacts", fill=0,
         explain="{value:.0f} contacts left in the last 180 days")
def contacts_lost_180d() -> str:
    """Contacts who left in the 180 days before the snapshot."""
    return "count(*) FILTER (WHERE t.ended_at >= s.snapshot_date - 180)"
