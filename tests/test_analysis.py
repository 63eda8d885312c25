"""Results policy, in-process and fast: reading numbers, the formats, grouping and the
columns shown, from plain ``Run`` rows."""

from __future__ import annotations

from pathlib import Path

from hydraflow.analysis.reading import numbers, read_metrics

# -- reading --------------------------------------------------------------------------------


def test_an_int_too_large_for_a_float_is_not_a_number_column(tmp_path: Path) -> None:
    huge = 10**400
    assert numbers({"huge": huge, "loss": 2, "deep": {"huge": -huge}}) == {"loss": 2.0}
    assert numbers(huge) == {}
    (tmp_path / "metrics.json").write_text(f'{{"huge": {huge}, "acc": 0.5}}')
    assert read_metrics(str(tmp_path), ["metrics.json"]) == {"acc": 0.5}
