"""Compare model runs on the same holdout rows: side-by-side metrics, paired bootstrap
differences with a verdict per metric, the accounts on which the runs disagree most (with each
run's drivers), and one self-contained HTML page.

The holdout is the test period of the newest run: the feature rows it logged
(``tables/test_features.parquet``) are scored by every run's model. Runs are refused when that
would not be a fair comparison: a model needs a feature those rows lack, the label definitions
or horizons differ, or a run was fitted on snapshots that reach into the holdout's label
windows. Nothing here talks to MLflow; pipeline/compose/runs.py reads the runs and logs the
result.

Three parts: :mod:`.compatibility` (is the comparison fair), :mod:`.differences` (the
metrics, paired differences and disagreements) and :mod:`.rendering` (tables and the page).
"""

from healthscore.training.compare.compatibility import (
    Contender,
    IncompatibleRunsError,
    check_compatible,
    compatibility_problems,
    contender,
    describe_definition,
    display_names,
    fitted_through,
    honest_contender,
    label_definition,
    newest,
    read_holdout_rows,
    require_model_runs,
)
from healthscore.training.compare.differences import (
    DRIVERS_SHOWN,
    KIND_COMPARISON,
    LABELS,
    SIDE_BY_SIDE,
    TAG_COMPARED,
    TAG_HOLDOUT,
    TAG_REFERENCE,
    TOP_DISAGREEMENTS,
    Comparison,
    compare_runs,
    comparison_metrics,
    comparison_params,
    comparison_tags,
    difference_metrics,
    disagreements,
    paired_differences,
    side_by_side,
)
from healthscore.training.compare.rendering import (
    PLOT_CAPTIONS,
    band_churn_cells,
    band_tables,
    comparison_plots,
    disagreement_cells,
    formatted_differences,
    formatted_side_by_side,
    holdout_summary,
    render_comparison,
    runs_table,
)

__all__ = [
    "DRIVERS_SHOWN", "KIND_COMPARISON", "LABELS", "PLOT_CAPTIONS", "SIDE_BY_SIDE",
    "TAG_COMPARED", "TAG_HOLDOUT", "TAG_REFERENCE", "TOP_DISAGREEMENTS", "Comparison",
    "Contender", "IncompatibleRunsError", "band_churn_cells", "band_tables", "check_compatible",
    "compare_runs", "comparison_metrics", "comparison_params", "comparison_plots",
    "comparison_tags", "compatibility_problems", "contender", "describe_definition",
    "difference_metrics", "disagreement_cells", "disagreements", "display_names",
    "fitted_through", "formatted_differences", "formatted_side_by_side", "holdout_summary",
    "honest_contender", "label_definition", "newest", "paired_differences",
    "read_holdout_rows", "render_comparison", "require_model_runs", "runs_table",
    "side_by_side",
]
