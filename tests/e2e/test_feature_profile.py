"""``healthscore -v build-features`` prints the seconds of every feature family, so the next
slow family is visible (the library logs them; the command line shows INFO at -v)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

from healthscore.data.dataset import open_dataset
from healthscore.data.settings import DataConfig, SynthConfig
from healthscore.features.engine import candidate_features
from healthscore.features.families import SPINE_FAMILY
from healthscore.synth import generate_world, write_world

FAMILY_LINE = re.compile(r"family (\w+): (\d+) features in (\d+\.\d)s")


def test_verbose_build_features_lists_every_family_with_its_seconds(tmp_path):
    world = generate_world(SynthConfig(accounts=60, months=14, seed=5))
    write_world(world, tmp_path / "data")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "workdir": str(tmp_path / "work"),
        "data": {"dir": str(tmp_path / "data"), "end_date": world.end_date.isoformat()}}))
    out = subprocess.run(
        [sys.executable, "-m", "healthscore.pipeline.cli", "-v", "-c", str(config),
         "build-features"], capture_output=True, text=True, timeout=600,
        env=dict(os.environ, COLUMNS="250"), check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    timed = {m[1]: (int(m[2]), float(m[3]))
             for m in FAMILY_LINE.finditer(" ".join(out.stderr.split()))}
    dataset = open_dataset(DataConfig(dir=tmp_path / "data", end_date=world.end_date))
    members: dict[str, int] = {}
    for spec in candidate_features(dataset):
        if spec.family != SPINE_FAMILY:
            members[spec.family] = members.get(spec.family, 0) + 1
    assert {family: count for family, (count, _) in timed.items()} == members
    assert all(seconds >= 0 for _, seconds in timed.values())
    # without -v, no profile: one composed query (in a fresh workdir: no cached matrix)
    config.write_text(config.read_text().replace(str(tmp_path / "work"),
                                                 str(tmp_path / "fresh")))
    quiet = subprocess.run(
        [sys.executable, "-m", "healthscore.pipeline.cli", "-c", str(config), "build-features"],
        capture_output=True, text=True, timeout=600, check=False)
    assert quiet.returncode == 0 and not FAMILY_LINE.search(quiet.stderr)
    assert (tmp_path / "fresh" / "features.parquet").exists()
