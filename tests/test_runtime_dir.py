"""Memory-backed scratch space of a state folder (paths.runtime_dir): where the collector's copy
for the Tempo guard lives, off the state disk whose filling it must outlive."""
from pathlib import Path

from plano_obs.config import paths


def test_one_folder_per_state_folder_in_shared_memory(tmp_path):
    a, b = paths.runtime_dir(tmp_path / "a"), paths.runtime_dir(tmp_path / "b")
    assert a != b and a == paths.runtime_dir(tmp_path / "a")
    if Path("/dev/shm").is_dir():
        assert a.parent == Path("/dev/shm") and a.name.startswith("plano-observability-")


def test_without_shared_memory_it_is_the_state_folder_s_run(tmp_path, monkeypatch):
    monkeypatch.setattr("os.access", lambda *a: False)  # /dev/shm not writable
    assert paths.runtime_dir(tmp_path) == tmp_path / "run"
