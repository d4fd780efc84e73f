"""The Tempo guard's books (plano_obs/traces/guard.py): cutting a stretch of time out of the
collector's rotating copy, and keeping only the spans Tempo lacks. The live proof is the fault
matrix's Tempo SIGKILL (docs/reliability.md#the-tempo-guard)."""
import base64
import json
import os

from plano_obs.traces import guard


def _line(trace: str, *spans: str) -> bytes:
    req = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"scope": {}, "spans": [
        {"traceId": trace, "spanId": s, "name": s, "startTimeUnixNano": "1", "endTimeUnixNano": "2"} for s in spans]}]}]}
    return json.dumps(req).encode() + b"\n"


T1, T2 = "a" * 32, "b" * 32
S = [f"{i:016x}" for i in range(1, 9)]


def test_a_cut_holds_exactly_the_lines_written_between_two_marks(tmp_path):
    path = tmp_path / "spans.jsonl"
    copy = guard.Copy(path, keep_s=60)
    copy.mark(100.0)  # no file yet
    path.write_bytes(_line(T1, S[0]))
    copy.mark(101.0)
    with path.open("ab") as fh:
        fh.write(_line(T1, S[1]) + _line(T2, S[2]))
    copy.mark(102.0)
    with path.open("ab") as fh:
        fh.write(_line(T2, S[3]))
    copy.mark(103.0)
    lines, reached = copy.cut(101.5, 102.0)
    assert [json.loads(x)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] for x in lines] == [S[1], S[2]]
    assert reached == 101.0
    lines, reached = copy.cut(50.0, 200.0)  # before the first mark: from the start, and says so
    assert len(lines) == 4 and reached == 100.0


def test_a_cut_across_a_rotation_reads_the_kept_part_then_the_new_file(tmp_path):
    path = tmp_path / "spans.jsonl"
    copy = guard.Copy(path, keep_s=60)
    path.write_bytes(_line(T1, S[0]))
    copy.mark(10.0)
    with path.open("ab") as fh:
        fh.write(_line(T1, S[1]))
    os.rename(path, tmp_path / "spans-2026-12-08T00-00-00.000.jsonl")  # what the exporter's rotation does
    path.write_bytes(_line(T2, S[2]))
    copy.mark(11.0)
    lines, _ = copy.cut(10.0, 11.0)
    assert [json.loads(x)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] for x in lines] == [S[1], S[2]]


def test_a_line_half_written_at_a_mark_is_left_to_its_own_side(tmp_path):
    path = tmp_path / "spans.jsonl"
    copy = guard.Copy(path, keep_s=60)
    whole, half = _line(T1, S[0]), _line(T2, S[1])
    path.write_bytes(whole + half[:10])
    copy.mark(1.0)  # the exporter is mid-line
    with path.open("ab") as fh:
        fh.write(half[10:] + _line(T2, S[2])[:5])
    copy.mark(2.0)
    lines, _ = copy.cut(1.0, 2.0)
    assert lines == []  # the half line began before the mark; the next is not finished
    lines, _ = copy.cut(0.0, 2.0)
    assert lines == [whole.strip(), half.strip()]


def test_only_the_spans_tempo_lacks_are_kept_and_counted():
    lines = [_line(T1, S[0], S[1]).strip(), _line(T2, S[2]).strip(), _line(T1, S[3]).strip()]
    in_tempo = {T1: {S[0]}, T2: {S[2]}}
    todo, traces, already = guard.missing(lines, lambda tid: in_tempo[tid])
    sent = [(s["traceId"], s["spanId"]) for r in todo for rs in r["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
    assert sent == [(T1, S[1]), (T1, S[3])] and traces == 2 and already == 2
    assert guard.missing(lines, lambda tid: {S[0], S[1], S[2], S[3]}) == ([], 2, 4)


def test_tempo_answers_ids_in_base64_and_the_copy_in_hex():
    assert guard._hex(base64.b64encode(bytes.fromhex(S[5])).decode()) == S[5]
    assert guard._hex(S[5]) == S[5]


def test_marks_older_than_the_keep_time_go_but_one_stays(tmp_path):
    copy = guard.Copy(tmp_path / "x.jsonl", keep_s=10)
    for t in range(0, 40):
        copy.mark(float(t))
    assert copy.marks[0].t <= 39 - 10 < copy.marks[1].t


def test_a_line_the_exporter_could_not_finish_is_skipped():
    """On a full disk the file exporter leaves a broken line; the collector refused those spans,
    so the client sent them again, in a later line."""
    lines = [_line(T1, S[0]).strip()[:40], _line(T1, S[1]).strip()]
    todo, traces, already = guard.missing(lines, lambda tid: set())
    assert [s["spanId"] for r in todo for rs in r["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]] == [S[1]]
    assert (traces, already) == (1, 0)
