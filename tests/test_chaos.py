"""The chaos run's books: counter growth across resets, and the verdict line and status."""
import pytest

from plano_obs.chaos import Row, growth, verdict


@pytest.mark.parametrize("samples,t0,expected", [
    ([(1, 10), (2, 10), (3, 15), (4, 22)], 2, 12),  # plain growth from the value at t0
    ([(1, 10), (3, 15), (4, 3), (5, 7)], 2, 5 + 3 + 4),  # a reset: the new process counted 3, then 4 more
    ([(5, 0), (6, 4), (7, 9)], 2, 9),  # born after t0 (created-timestamp zero sample)
    ([(6, 4), (7, 9)], 2, 9),  # born after t0 without a zero sample: its first value is all new
    ([(1, 10), (2, 10)], 2, 0),  # nothing after t0
])
def test_growth(samples, t0, expected):
    assert growth(samples, t0) == expected


def test_verdict_fails_on_a_lost_span_and_on_counts_short_without_a_reason():
    ok = [Row("none", 10, 10, 10, 10), Row("collector SIGKILL", 10, 10, 10, 7, uncounted_ok="restart")]
    assert verdict(ok) == ("1 faults, 0 lost spans (3 accepted spans not counted in Prometheus, all after a collector restart)", 0)
    lost = ok + [Row("tempo SIGKILL", 10, 10, 8, 10)]
    assert verdict(lost) == ("2 faults, 2 lost spans (3 accepted spans not counted in Prometheus, all after a collector restart)", 1)
    short = [Row("none", 10, 10, 10, 10), Row("prometheus SIGKILL", 10, 10, 10, 9)]
    assert verdict(short) == ("1 faults, 0 lost spans (1 accepted spans not counted in Prometheus; unexplained in: prometheus SIGKILL)", 1)
    assert verdict([Row("none", 5, 5, 5, 9)]) == ("0 faults, 0 lost spans", 0)  # over-counting is not a loss
