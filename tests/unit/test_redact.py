"""One redaction for every URL, config and message: passwords never leave in any spelling."""

from __future__ import annotations

import logging

import pytest

from healthscore import redact
from healthscore.errors import ExitCode, LockHeldError, ModelError, exit_code_of

PASSWORD = "p@ss:w/rd"
ENCODED = "p%40ss%3Aw%2Frd"
URL = f"postgresql+psycopg2://scorer:{ENCODED}@db.internal:5432/health"


def test_the_password_of_a_percent_encoded_url_is_masked():
    assert redact.redact_url(URL) == "postgresql+psycopg2://scorer:***@db.internal:5432/health"
    assert redact.url_password(URL) == ENCODED
    assert redact.url_problem(URL) is None


@pytest.mark.parametrize("url", ["postgresql://u:p@ss@host/db", "postgresql://u:pa/ss@host/db"])
def test_a_raw_at_or_slash_is_refused_and_still_masked(url):
    assert "percent-encode" in redact.url_problem(url)
    masked = redact.redact_url(url)
    assert masked.startswith("postgresql://u:***@") and "ss@" not in masked


@pytest.mark.parametrize("url", ["http://mlflow:5000", "sqlite:///a@b/mlflow.db",
                                 "http://host:5000/path@x", "postgresql://u@host/db"])
def test_urls_without_a_password_are_left_alone(url):
    assert redact.redact_url(url) == url
    assert redact.url_problem(url) is None


@pytest.mark.parametrize(("url", "bare"), [
    (URL, "postgresql+psycopg2://db.internal:5432/health"),
    ("https://bot:tok%40en@mlflow.example.com/", "https://mlflow.example.com/"),
    ("http://bot@mlflow:5000", "http://mlflow:5000"),
    ("http://host:5000/path@x", "http://host:5000/path@x"),  # no credentials in it
    ("http://mlflow:5000", "http://mlflow:5000"),
])
def test_credentials_are_left_out_of_a_url_to_call(url, bare):
    assert redact.without_credentials(url) == bare


def test_scrub_removes_every_spelling_of_a_registered_password():
    redact.register_url(URL)
    text = f"raw {PASSWORD} encoded {ENCODED} lower {ENCODED.lower()} url {URL}"
    cleaned = redact.scrub(text)
    for form in (PASSWORD, ENCODED, ENCODED.lower()):
        assert form not in cleaned
    assert cleaned.count("***") == 4


def test_redact_config_masks_urls_and_secret_keys():
    raw = {"scoring": {"history": URL}, "training": {"tracking": {"uri": "http://m:5000"}},
           "extra": [{"api_token": "abc123"}], "seed": 7}
    out = redact.redact_config(raw)
    assert out["scoring"]["history"] == redact.redact_url(URL)
    assert out["training"]["tracking"]["uri"] == "http://m:5000"
    assert out["extra"][0]["api_token"] == "***" and out["seed"] == 7


def test_the_log_filter_scrubs_messages_and_arguments(caplog):
    redact.register_url(URL)
    logger = logging.getLogger("healthscore.test_redact")
    handler_filter = redact.RedactingFilter()
    record = logger.makeRecord(logger.name, logging.WARNING, __file__, 1,
                               "connecting to %s with %s", (URL, PASSWORD), None)
    assert handler_filter.filter(record)
    assert PASSWORD not in record.getMessage() and ENCODED not in record.getMessage()


def test_exit_codes_come_from_one_place():
    assert exit_code_of(LockHeldError("held")) == ExitCode.RETRYABLE == 75
    assert exit_code_of(ModelError("none")) == ExitCode.MODEL == 3
    assert exit_code_of(ValueError("bug")) == ExitCode.BUG == 1
    assert len({int(c) for c in ExitCode}) == len(ExitCode)


def test_formula_cells_in_the_crm_export_are_neutralised():
    import pandas as pd

    from healthscore.serving.portfolio import neutralise_formulas

    cells = pd.Series(["=HYPERLINK(\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "acme", "-3",
                       "-4.5"])
    assert neutralise_formulas(cells).tolist() == [
        "'=HYPERLINK(\"x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "acme", "-3", "-4.5"]
