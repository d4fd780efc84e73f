"""The chaos run's books: counter growth across resets, and the verdict line and status."""
import pytest

from plano_obs.harness.chaos import Row, growth, verdict


@pytest.mark.parametrize("samples,t0,expected", [
    ([(1, 10), (2, 10), (3, 15), (4, 22)], 2, 12),  # plain growth from the value at t0
    ([(1, 10), (3, 15), (4, 3), (5, 7)], 2, 5 + 3 + 4),  # a reset: the new process counted 3, then 4 more
    ([(5, 0), (6, 4), (7, 9)], 2, 9),  # born after t0 (created-timestamp zero sample)
    ([(6, 4), (7, 9)], 2, 9),  # born after t0 without a zero sample: its first value is all new
    ([(1, 10), (2, 10)], 2, 0),  # nothing after t0
])
def test_growth(samples, t0, expected):
    assert growth(samples, t0) == expected


def _row(fault, sent, accepted, stored, counted, before=None, **kw):
    """A row whose fault landed mid-traffic (a third of the spans before it) unless `before` says."""
    return Row(fault, sent, accepted, stored, counted, before_fault=sent // 3 if before is None else before, **kw)


def test_verdict_fails_on_a_lost_span_and_on_counts_short_without_a_reason():
    ok = [_row("none", 10, 10, 10, 10), _row("collector SIGKILL", 10, 10, 10, 7, uncounted_ok="restart")]
    assert verdict(ok) == ("1 faults, 0 lost spans (3 accepted spans not counted in Prometheus, all after a collector restart)", 0)
    lost = ok + [_row("tempo SIGKILL", 10, 10, 8, 10)]
    assert verdict(lost) == ("2 faults, 2 lost spans (2 in tempo SIGKILL) (3 accepted spans not counted in "
                             "Prometheus, all after a collector restart)", 1)
    short = [_row("none", 10, 10, 10, 10), _row("prometheus SIGKILL", 10, 10, 10, 9)]
    assert verdict(short) == ("1 faults, 0 lost spans (1 accepted spans not counted in Prometheus; unexplained in: prometheus SIGKILL)", 1)
    assert verdict([_row("none", 5, 5, 5, 9)]) == ("0 faults, 0 lost spans", 0)  # over-counting is not a loss


def test_a_loss_is_a_loss_whatever_tempo_logged():
    """The run used to excuse a full disk's loss when Tempo logged its ENOSPC line; no longer."""
    rows = [_row("none", 10, 10, 10, 10), _row("state disk full", 10, 10, 7, 12)]
    assert verdict(rows) == ("1 faults, 3 lost spans (3 in state disk full)", 1)


@pytest.mark.parametrize("before", [0, 10])
def test_a_fault_that_missed_the_traffic_fails_the_run(before):
    """A fault before the first span or after the last proves nothing: the run says so and fails."""
    rows = [_row("none", 10, 10, 10, 10, before=0), _row("tempo SIGKILL", 10, 10, 10, 10, before=before)]
    assert verdict(rows) == ("1 faults, 0 lost spans (not mid-traffic, so proving nothing: tempo SIGKILL)", 1)
