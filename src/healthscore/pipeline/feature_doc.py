"""Generate docs/features.md from the feature registry (one source of truth).

Regenerate with: python -m healthscore.pipeline.feature_doc > docs/features.md
(tests/unit/pipeline/test_feature_doc.py fails when the file is stale).
"""

from __future__ import annotations

from healthscore.features.engine import load_feature_modules
from healthscore.features.families import FAMILIES
from healthscore.features.metrics import STATISTICS
from healthscore.features.registry import Kind, all_features, all_templates

HEADER = """# Feature catalogue

Generated from the registry by `python -m healthscore.pipeline.feature_doc`; do not edit.
Every feature is computed as of its snapshot date *s* from data dated strictly before *s*; the
family column says which source rows it sees (look-back in days; later-known values such as a
ticket's close or an invoice's payment are masked until they are known). **When missing** says
what an account without data gets: a number is a fill that means the same thing (0 events);
*unknown* stays missing for the models to handle (no NPS yet is not NPS 0). Templates marked
*per event type* exist once per event type (the 12 most frequent among events dated before the
test period, or those `features.event_types` lists), named `<name>__<event_type>`.
**Direction** is declared only where the domain is sure; *learned* features get theirs from the
training rows (reported with its strength); `features.directions` declares more.
"""


def _family(name: str) -> str:
    family = FAMILIES.get(name)
    if family is None:
        return "spine (as of the snapshot)"
    window = f"{family.lookback_days} d" if family.lookback_days else "all history"
    return f"{name} ({window})"


def render_feature_catalog() -> str:
    """The whole Markdown catalogue, grouped by dimension."""
    load_feature_modules()
    specs = [(s, "") for s in all_features()] + [(t.spec, "per event type")
                                                 for t in all_templates()]
    out = [HEADER]
    for dimension in dict.fromkeys(s.dimension for s, _ in specs):
        out.append(f"\n## {dimension.value}\n")
        out.append("| feature | direction | unit | when missing | family | description | "
                   "sentence |\n|---|---|---|---|---|---|---|")
        for spec, note in specs:
            if spec.dimension is not dimension:
                continue
            missing = "unknown" if spec.fill is None else f"{spec.fill:g}"
            if spec.kind is Kind.CATEGORICAL:
                missing = "unknown (category)"
            name = f"`{spec.name}`" + (f" ({note})" if note else "")
            out.append(f"| {name} | {spec.direction.value.replace('_', ' ')} | {spec.unit} | "
                       f"{missing} | {_family(spec.family)} | {spec.description} | "
                       f"{spec.explain} |")
    out.append(METRICS_HEADER)
    for stat in STATISTICS:
        direction = "the metric's" if stat.directed else "learned"
        missing = "unknown" if stat.fill is None else f"{stat.fill:g}"
        words = {"label": "*metric*", "unit": "*unit*", "limit": "*L*"}
        explain = stat.explain.format(**words)
        out.append(f"| `metric_{stat.name}__<metric>` | {direction} | "
                   f"{stat.unit.format(**words)} | {missing} | "
                   f"{stat.description.format(**words)} | {explain} |")
    return "\n".join(out) + "\n"


METRICS_HEADER = """
## metric trends (per metric of the `metrics` table)

Every metric of the optional `metrics` table (a CRM, billing or warehouse field) gets these
features, named `<template>__<metric>`, with the dimension, direction, unit and label of its
`features.metrics.definitions` entry (default: usage, learned, `value`, its name spaced out);
*L* is `features.metrics.stale_after_days` (default 45). The **value as of a day d** is the
latest measurement dated strictly before *d* (several that day: their mean), unknown when it is
more than *L* days older than *d*; "now" is the snapshot date *s*, "30 days earlier" is the
value as of *s* - 30. The 90-day window is [*s* - 90, *s*). See docs/data-contract.md for a
worked example.

| feature | direction | unit | when missing | description | sentence |
|---|---|---|---|---|---|"""


if __name__ == "__main__":
    import sys

    sys.stdout.write(render_feature_catalog())
