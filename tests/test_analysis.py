"""Results policy, in-process and fast: reading numbers, the formats, grouping and the
columns shown, from plain ``Run`` rows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from hydraflow.analysis import formats
from hydraflow.analysis.model import Run
from hydraflow.analysis.reading import numbers, read_metrics
from hydraflow.analysis.table import group

NAN, INF = math.nan, math.inf


def strict_json(text: str) -> Any:
    """JSON as other programs read it: ``NaN`` and ``Infinity`` are not JSON."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# -- reading --------------------------------------------------------------------------------


def test_an_int_too_large_for_a_float_is_not_a_number_column(tmp_path: Path) -> None:
    huge = 10**400
    assert numbers({"huge": huge, "loss": 2, "deep": {"huge": -huge}}) == {"loss": 2.0}
    assert numbers(huge) == {}
    (tmp_path / "metrics.json").write_text(f'{{"huge": {huge}, "acc": 0.5}}')
    assert read_metrics(str(tmp_path), ["metrics.json"]) == {"acc": 0.5}


# -- formats --------------------------------------------------------------------------------


def test_json_writes_non_finite_numbers_as_null() -> None:
    runs = [
        Run("j", "ok", "d/0", {"x": "1"}, {"loss": NAN, "up": INF, "down": -INF, "acc": 0.5}),
        Run("j", "ok", "d/1", {"x": "2"}, {"loss": INF, "up": 1.0}, duration=NAN),
    ]
    with pytest.raises(ValueError, match="not JSON"):
        strict_json('{"a": NaN}')  # the check itself can fail
    rows = strict_json(formats.as_json(runs))
    assert rows[0]["metrics"] == {"loss": None, "up": None, "down": None, "acc": 0.5}
    assert rows[1]["duration"] is None
    grouped = strict_json(formats.as_json(groups=group(runs, ["x"])))
    assert [g["metrics"]["loss"] for g in grouped] == [{"mean": None, "std": None}] * 2
    assert grouped[0]["metrics"]["acc"] == {"mean": 0.5, "std": None}
