"""The functions that wire the stages into the commands; no decisions of their own.

One module per group of commands: ``inputs`` (synthetic world, data, features, feature
tables), ``runs`` (train, backtest, compare, validation report), ``retraining`` (retrain as
its steps, with the gate a pure step of its own in ``promotion_gate``), ``scoring`` (score,
owner pages, drift), ``monitoring`` (live accuracy), ``end_to_end`` (the demo) and
``workspace`` (the data folder and the MLflow store a config points at). Everything is
importable from here: ``compose.train(...)``.
"""

from healthscore.pipeline.compose.end_to_end import (
    DemoHooks,
    DemoOutcome,
    demo,
    month_starts_before,
)
from healthscore.pipeline.compose.inputs import (
    BuiltMatrix,
    FeatureTableInfo,
    build_features,
    feature_table_rows,
    matrix_inputs,
    open_data,
    read_feature_table,
    resolved_data_config,
    synthesize_world,
    write_features,
)
from healthscore.pipeline.compose.monitoring import (
    MonitorOutcome,
    driver_sentences,
    log_monitoring,
    monitor,
    outcomes_on,
    scoring_bands,
    validation_promise,
)
from healthscore.pipeline.compose.promotion_gate import (
    CandidateFigures,
    ChampionFigures,
    decide_promotion,
)
from healthscore.pipeline.compose.retraining import (
    ChampionComparison,
    compare_with_champion,
    retrain,
)
from healthscore.pipeline.compose.runs import backtest, compare, train, write_validation_report
from healthscore.pipeline.compose.scoring import (
    check_owner,
    drift,
    owner_portfolio,
    score,
    score_feature_table,
    unknown_owner,
)
from healthscore.pipeline.compose.workspace import (
    artifacts_dir,
    check_tracking,
    data_dir,
    tracking_uri,
    use_tracking,
)

__all__ = [
    "BuiltMatrix", "CandidateFigures", "ChampionComparison", "ChampionFigures", "DemoHooks",
    "DemoOutcome", "FeatureTableInfo", "MonitorOutcome", "artifacts_dir", "backtest",
    "build_features", "check_owner", "check_tracking", "compare", "compare_with_champion",
    "data_dir", "decide_promotion", "demo", "driver_sentences", "drift", "feature_table_rows",
    "log_monitoring", "matrix_inputs", "monitor", "month_starts_before", "open_data",
    "outcomes_on", "owner_portfolio", "read_feature_table", "resolved_data_config", "retrain",
    "score", "score_feature_table", "scoring_bands", "synthesize_world", "tracking_uri", "train",
    "unknown_owner", "use_tracking", "validation_promise", "write_features",
    "write_validation_report",
]
