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


def test_verdict_fails_on_a_lost_span_and_on_counts_short_without_a_reason():
    ok = [Row("none", 10, 10, 10, 10), Row("collector SIGKILL", 10, 10, 10, 7, uncounted_ok="restart")]
    assert verdict(ok) == ("1 faults, 0 lost spans (3 accepted spans not counted in Prometheus, all after a collector restart)", 0)
    lost = ok + [Row("tempo SIGKILL", 10, 10, 8, 10)]
    assert verdict(lost) == ("2 faults, 2 lost spans (unexplained in: tempo SIGKILL) (3 accepted spans not counted in "
                             "Prometheus, all after a collector restart)", 1)
    short = [Row("none", 10, 10, 10, 10), Row("prometheus SIGKILL", 10, 10, 10, 9)]
    assert verdict(short) == ("1 faults, 0 lost spans (1 accepted spans not counted in Prometheus; unexplained in: prometheus SIGKILL)", 1)
    assert verdict([Row("none", 5, 5, 5, 9)]) == ("0 faults, 0 lost spans", 0)  # over-counting is not a loss


def test_a_loss_passes_only_with_the_upstream_defect_s_evidence_and_is_named(tmp_path):
    from plano_obs.harness import faults
    ctx = faults.Context(info={}, state=tmp_path)
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "tempo.log"
    log.write_text("level=error msg=\"failed to cut blocks\" err=\"no space left on device\"\n")
    assert faults.tempo_lost_on_enospc(ctx) is None  # another line: no evidence of this defect
    log.write_text('level=error caller=live_store.go:764 msg="failed to cut idle traces" err="error writing meta json: '
                   'write …/meta.json: no space left on device"\n' * 2)
    why = faults.tempo_lost_on_enospc(ctx)
    assert why is not None and "(2× in its log)" in why
    rows = [Row("none", 10, 10, 10, 10), Row("state disk full", 10, 10, 7, 12, lost_ok=why)]
    line, status = verdict(rows)
    assert status == 0 and line.startswith(f"1 faults, 3 lost spans (3 in state disk full: {why})"), line
    # the same loss anywhere else, or without the evidence, fails
    assert verdict(rows + [Row("tempo SIGKILL", 10, 10, 9, 10)])[1] == 1
    assert verdict([Row("state disk full", 10, 10, 7, 12)])[1] == 1
