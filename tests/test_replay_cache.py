"""The spool cache (spoolcache.py): a file replayed again is not parsed again, a changed or
damaged spool is never used, the folder stays within its limit, and the settings are read as
the docs say."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from plano_obs.errors import PlanoError
from plano_obs.traces import firstpass, spool, spoolcache
from tests.fixtures.counts import FIXTURES
from tests.test_replay import MIXED, MIXED_RECORDS, MIXED_SPANS, MIXED_TRACES, _copies, collector, invoke  # noqa: F401

DIRECT = FIXTURES["plano-direct.json"]


def _scan(path: Path, cache: spoolcache.SpoolCache | None, **kw) -> tuple[spool.Scan, list]:
    with spool.Spool(cache=cache) as sp:
        result = spool.first_pass([path], sp, workers=1, **kw)
        return result, [(e.file, e.record, e.chunk) for e in sp]


def _numbers(s: spool.Scan) -> tuple:
    return (s.records, s.spans, s.rest_spans, s.full.start, s.full.end, s.rest.start, s.rest.end,
            None if s.full.traces is None else sorted(s.full.traces.items()))


@pytest.fixture
def cache(tmp_path) -> spoolcache.SpoolCache:
    return spoolcache.SpoolCache(tmp_path / "cache", 1 << 30)


@pytest.fixture
def parses(monkeypatch) -> list[Path]:
    """The files the first pass parsed, in order."""
    seen: list[Path] = []
    real = firstpass.sequential

    def counting(path, *args):
        seen.append(path)
        return real(path, *args)
    monkeypatch.setattr(firstpass, "sequential", counting)
    return seen


def _spools(cache: spoolcache.SpoolCache) -> list[str]:
    return sorted(p.name for p in cache.folder.glob("*.spool"))


def test_a_file_replayed_again_is_read_from_its_cached_spool(tmp_path, cache, parses):
    rec = tmp_path / "rec.jsonl"
    rec.write_bytes(MIXED.read_bytes())
    first, entries = _scan(rec, cache)
    (name,) = _spools(cache)
    assert name.startswith(f"v{spoolcache.VERSION}-2000-{rec.stat().st_size}-") and parses == [rec]
    again, cached_entries = _scan(rec, cache)
    assert parses == [rec]  # not parsed the second time
    assert _numbers(again) == _numbers(first) and (first.records, first.spans) == (MIXED_RECORDS, MIXED_SPANS)
    assert cached_entries == entries  # the same chunks, patches included
    copy = tmp_path / "copy.jsonl"  # found by what it holds, not by its name
    copy.write_bytes(rec.read_bytes())
    assert _numbers(_scan(copy, cache)[0]) == _numbers(first) and parses == [rec]
    assert (cache.folder.stat().st_mode & 0o777, (cache.folder / name).stat().st_mode & 0o777) == (0o700, 0o600)


def test_files_cached_and_not_are_spooled_in_their_order(tmp_path, cache, parses):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    lines = MIXED.read_text().splitlines()
    a.write_text("\n".join(lines[:25]) + "\n")
    b.write_text("\n".join(lines[25:]) + "\n")
    _scan(a, cache)  # a is kept; b, and a second a, are read from the cache or parsed
    with spool.Spool(cache=None) as sp:
        cold = spool.first_pass([a, b, a], sp, workers=1)
        expected = [(e.file, e.record, e.chunk) for e in sp]
    with spool.Spool(cache=cache) as sp:
        warm = spool.first_pass([a, b, a], sp, workers=1)
        assert [(e.file, e.record, e.chunk) for e in sp] == expected
    assert _numbers(warm) == _numbers(cold) and warm.spans == MIXED_SPANS + 145 == 376  # a: 145 spans
    assert [e[0] for e in expected].count(2) == [e[0] for e in expected].count(0)  # a twice, as files 0 and 2
    assert parses == [a, a, b, a, b]  # the first a, the cold scan's three, then only b (kept now)


def test_a_cached_spool_serves_a_resume_and_trace_starts(tmp_path, cache, parses):
    rec = _copies(MIXED, tmp_path / "rec.jsonl", 3)
    start = spool.Position(1, 0, 50, 1)
    cold = [_scan(rec, None, start=start, trace_starts=True), _scan(rec, None)]
    _scan(rec, cache)  # kept
    warm = [_scan(rec, cache, start=start, trace_starts=True), _scan(rec, cache)]
    assert [_numbers(s) for s, _ in warm] == [_numbers(s) for s, _ in cold] and parses == [rec] * 3
    # from record 50 on (its chunk counts whole, as the cold first pass counts it)
    assert cold[0][0].rest_spans == 3 * MIXED_SPANS - sum(c.spans for f, r, c in cold[1][1] if r < 50) == 404
    assert len(cold[0][0].full.traces) == 3 * MIXED_TRACES


def test_a_changed_file_is_parsed_again(tmp_path, cache, parses):
    rec = tmp_path / "rec.jsonl"
    rec.write_bytes(MIXED.read_bytes())
    _scan(rec, cache)
    lines = MIXED.read_text().splitlines()
    rec.write_text("\n".join(lines[1:] + lines[:1]) + "\n")  # the same size, in another order
    os.utime(rec, ns=(0, 0))
    changed, _ = _scan(rec, cache)
    assert parses == [rec, rec] and changed.spans == MIXED_SPANS and len(_spools(cache)) == 2


def test_an_unchanged_file_is_not_read_again_to_be_hashed(tmp_path, cache, parses, monkeypatch):
    rec = tmp_path / "rec.jsonl"
    rec.write_bytes(MIXED.read_bytes())
    first, _ = _scan(rec, cache)
    (path, (*stamp, sha)), = json.loads((cache.folder / "known.json").read_text()).items()
    st = rec.stat()
    assert (path, stamp) == (str(rec.resolve()), [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns])
    assert (cache.folder / f"v{spoolcache.VERSION}-2000-{st.st_size}-{sha}.spool").exists()

    def no_hashing(self, data):
        raise AssertionError("hashed")
    monkeypatch.setattr(spoolcache.Fingerprint, "update", no_hashing)
    assert _numbers(_scan(rec, cache)[0]) == _numbers(first) and parses == [rec]


def test_an_edit_that_puts_the_modification_time_back_is_seen(tmp_path, cache, parses):
    rec = tmp_path / "rec.jsonl"
    rec.write_bytes(MIXED.read_bytes())
    _scan(rec, cache)
    before = rec.stat()
    lines = MIXED.read_text().splitlines()
    rec.write_text("\n".join(lines[1:] + lines[:1]) + "\n")  # the same size
    os.utime(rec, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime: only ctime tells
    assert rec.stat().st_size == before.st_size and rec.stat().st_mtime_ns == before.st_mtime_ns
    changed, entries = _scan(rec, cache)
    assert parses == [rec, rec] and entries[0][2].data != _scan(MIXED, None)[1][0][2].data


def test_a_damaged_spool_is_removed_and_the_file_parsed_again(tmp_path, cache, parses):
    rec = tmp_path / "rec.jsonl"
    rec.write_bytes(MIXED.read_bytes())
    first, entries = _scan(rec, cache)
    (path,) = cache.folder.glob("*.spool")
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    again, again_entries = _scan(rec, cache)
    assert parses == [rec, rec] and again_entries == entries and _numbers(again) == _numbers(first)
    path.write_bytes(path.read_bytes()[:-1])  # cut short
    assert _scan(rec, cache)[1] == entries and parses == [rec] * 3


def test_the_folder_keeps_to_its_limit_least_recently_used_first(tmp_path, parses):
    lines = MIXED.read_text().splitlines()
    a, b, c = (tmp_path / f"{n}.jsonl" for n in "abc")
    for p, (first, last) in zip((a, b, c), ((0, 5), (5, 15), (15, 30))):
        p.write_text("\n".join(lines[first:last]) + "\n")
    assert len({p.stat().st_size for p in (a, b, c)}) == 3  # told apart by size in the names below
    each = []
    for p in (a, b, c):
        probe = spoolcache.SpoolCache(tmp_path / f"probe-{p.stem}", 1 << 30)
        _scan(p, probe)
        each.append(sum(f.stat().st_size for f in probe.folder.glob("*.spool")))
    cache = spoolcache.SpoolCache(tmp_path / "cache", sum(each) - 1)  # not all three
    for p in (a, b):
        _scan(p, cache)
    os.utime(next(cache.folder.glob(f"*-{a.stat().st_size}-*.spool")), (1, 1))  # a: used long ago
    _scan(c, cache)
    assert sorted(int(n.split("-")[2]) for n in _spools(cache)) == sorted([b.stat().st_size, c.stat().st_size])
    small = spoolcache.SpoolCache(tmp_path / "small", each[0] - 1)  # one spool is larger than the limit
    _scan(a, small)
    assert _spools(small) == [] and not list(small.folder.glob(".partial-*"))


def test_an_invalid_file_is_not_cached(tmp_path, cache):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(MIXED.read_text().splitlines()[0] + "\n{oops\n")
    with pytest.raises(Exception, match="bad.jsonl:2: not JSON"):
        _scan(bad, cache)
    assert not cache.folder.exists() or _spools(cache) == []


def test_an_unwritable_folder_leaves_the_replay_uncached(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result, entries = _scan(MIXED, spoolcache.SpoolCache(blocker / "cache", 1 << 30))
    assert (result.spans, len(entries)) == (MIXED_SPANS, MIXED_RECORDS)


@pytest.mark.parametrize("env, expected", [
    ({}, ("default", 2048 << 20)),
    ({"PLANO_REPLAY_CACHE": "off"}, None),
    ({"PLANO_REPLAY_CACHE": "False"}, None),
    ({"PLANO_REPLAY_CACHE": "0"}, None),
    ({"PLANO_REPLAY_CACHE": "{tmp}/here", "PLANO_REPLAY_CACHE_MB": "1.5"}, ("{tmp}/here", 1572864)),
    ({"PLANO_REPLAY_CACHE_MB": "0"}, ("default", 0)),
])
def test_settings_come_from_the_environment(tmp_path, monkeypatch, env, expected):
    monkeypatch.delenv("PLANO_REPLAY_CACHE", raising=False)
    monkeypatch.delenv("PLANO_REPLAY_CACHE_MB", raising=False)
    monkeypatch.setenv("PLANO_OBS_CACHE", str(tmp_path / "obs"))
    for k, v in env.items():
        monkeypatch.setenv(k, v.format(tmp=tmp_path))
    found = spoolcache.from_env()
    if expected is None:
        assert found is None
        return
    folder = tmp_path / "obs" / "replay-spool" if expected[0] == "default" else Path(expected[0].format(tmp=tmp_path))
    assert (found.folder, found.limit) == (folder, expected[1])


@pytest.mark.parametrize("value", ["lots", "-1", "nan"])
def test_a_bad_limit_is_named(monkeypatch, value):
    monkeypatch.setenv("PLANO_REPLAY_CACHE_MB", value)
    with pytest.raises(PlanoError) as err:
        spoolcache.from_env()
    assert err.value.line() == (f"PLANO_REPLAY_CACHE_MB must be a number of MiB, 0 or more, got {value!r} — 0 keeps "
                                "nothing; unset it for the default (2048)")


def test_the_command_replays_from_the_cache_the_second_time(collector, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANO_REPLAY_CACHE", str(tmp_path / "cache"))
    rec = tmp_path / "direct.json"
    rec.write_bytes(DIRECT.read_bytes())
    svc, endpoint = collector()
    outs = []
    for _ in range(2):
        r = invoke("traces.replay", str(rec), "--endpoint", endpoint, "--speed", "0", "--json")
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(r.stdout))
    assert [(o["spans"], o["traces"], o["unsent_spans"]) for o in outs] == [(12, 6, 0)] * 2
    assert len(list((tmp_path / "cache").glob("*.spool"))) == 1
    assert len(svc.requests) == 2 and set(outs[0]["trace_ids"]).isdisjoint(outs[1]["trace_ids"])  # fresh ids
