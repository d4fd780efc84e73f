"""The knee benchmark's verdicts (plano_obs/harness/bench/knee.py): what held a step back, under a CPU
quota too, and the arguments it refuses before starting anything."""
from __future__ import annotations

import pytest

from plano_obs.harness.bench import knee


def test_a_step_that_reached_its_rate_losslessly_with_cpu_left_is_not_limited():
    assert knee.Step(4000, reached=3900, accepted=39000, cpu=0.3).limit == "none"


def test_a_step_short_of_its_rate_with_cpu_left_is_the_load_generator_s():
    assert knee.Step(16000, reached=9072, accepted=90720, cpu=0.71).limit == "load generator"
    # unthrottled (`max`) has no rate to reach: the generator's, unless the collector is at its ceiling
    assert knee.Step(0, reached=1135, cpu=0.10).limit == "load generator"


@pytest.mark.parametrize("loss", [{"refused": 1}, {"failed": 3}, {"uncounted": 2}])
def test_any_loss_is_the_collector_s(loss):
    assert knee.Step(4000, reached=3900, cpu=0.3, **loss).limit == "collector"


def test_saturation_is_measured_against_the_quota_not_a_whole_core():
    # 0.23 cores is 92 % of a quarter core: saturated under --cpu-quota 0.25, idle for a whole core
    assert knee.Step(3000, reached=2915, cpu=0.23, ceiling=0.25).limit == "collector"
    assert knee.Step(3000, reached=2915, cpu=0.23).limit == "none"
    assert knee.Step(3000, reached=2000, cpu=0.22, ceiling=0.25).limit == "load generator"


@pytest.mark.parametrize("argv, message", [
    (["--rates", "4000,max"], "--rates max needs --load telemetrygen"),
    (["--cpu-quota", "0", "--load", "telemetrygen"], "--cpu-quota must be between 0.05 and 1"),
    (["--cpu-quota", "2", "--load", "telemetrygen"], "--cpu-quota must be between 0.05 and 1"),
])
def test_bad_arguments_fail_before_anything_starts(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        knee.main(argv)
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # argparse: usage, then the one-line cause
    assert last.startswith("nox -s bench -- knee: error: " + message), last
