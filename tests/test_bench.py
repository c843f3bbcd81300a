import json
import time

import pytest

from rtxcourse import bench


def test_measure_counts_calls_and_warmup():
    calls = []
    m = bench.measure(lambda: calls.append(1), name="noop", warmup=3, repeats=4, number=5)
    assert len(calls) == 3 + 4 * 5 and len(m.times) == 4


def test_measure_times_sleep_accurately():
    m = bench.measure(lambda: time.sleep(0.01), name="sleep", warmup=1, repeats=3, work=100, unit="img")
    assert 0.009 < m.median < 0.03
    assert 3000 < m.rate < 11000
    assert m.to_dict()["median_s"] == m.median


def test_auto_number_reaches_min_time():
    m = bench.measure(lambda: None, name="fast", warmup=0, repeats=2, min_time=0.01)
    assert m.median < 1e-4  # per call, not per repeat


def test_sync_is_called_at_each_timer_edge():
    edges = []
    bench.measure(lambda: None, name="x", warmup=0, repeats=2, number=1, sync=lambda: edges.append(1))
    assert len(edges) == 4
    with pytest.raises(ValueError, match="sync must be"):
        bench.measure(lambda: None, name="x", sync="cuda")


def test_report_ratio_table_json():
    r = bench.Report("demo", hardware={"description": "test machine"})
    r.add(bench.Measurement("slow", [2.0, 2.2, 1.8], work=4.0, unit="FLOP"))
    r.add(bench.Measurement("fast", [1.0, 1.0, 1.1], work=4.0, unit="FLOP"))
    assert r.ratio("fast", "slow") == pytest.approx(2.0)
    table = r.table()
    assert "fast vs slow: 2.00x" in table and "test machine" in table and "FLOP/s" in table
    d = json.loads(r.to_json())
    assert d["ratios"][0]["speedup"] == pytest.approx(2.0) and len(d["measurements"][0]["times"]) == 3
    with pytest.raises(ValueError, match="already"):
        r.add(bench.Measurement("fast", [1.0]))
    with pytest.raises(KeyError, match="have: slow, fast"):
        r["medium"]


def test_report_uses_real_hardware_by_default():
    r = bench.Report("x")
    assert "CPU" in r.hardware["description"]


def test_format_helpers():
    assert bench.format_rate(3.2e11, "FLOP") == "320.0 GFLOP/s"
    assert bench.format_seconds(0.0025) == "2.50 ms"
