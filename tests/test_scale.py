"""The scaled-out Tempo's rendering and its bad input, without starting anything: every process
gets ports of its own, the partitions are all owned, the comparison Tempo is the stack's own
with only its ports, paths and label changed, and a missing Java or Maven is one line."""
from __future__ import annotations

import json

import pytest
import yaml

from plano_obs.config import render
from plano_obs.errors import JsonnetError
from plano_obs.harness.scale import kafka


@pytest.fixture(scope="module")
def native() -> dict[str, str]:
    return render.render("native")


def _scale(files: dict[str, str]) -> dict:
    return json.loads(files["scale/scale.json"])


def test_every_process_has_ports_of_its_own(native):
    info = _scale(native)
    used = list(info["ports"].values()) + [c[k] for c in info["components"].values() for k in ("http", "grpc", "memberlist", "otlp")]
    assert len(used) == len(set(used)) == len(info["ports"]) + 4 * len(info["components"])
    for name, c in info["components"].items():
        cfg = yaml.safe_load(native[f"scale/tempo-{name}.yaml"])
        assert (cfg["server"]["http_listen_port"], cfg["server"]["grpc_listen_port"], cfg["memberlist"]["bind_port"]) == \
            (c["http"], c["grpc"], c["memberlist"])
        assert sorted(cfg["memberlist"]["join_members"]) == sorted(f"127.0.0.1:{x['memberlist']}" for x in info["components"].values())


def test_each_partition_has_a_live_store_and_the_block_builders_take_them_all(native):
    info = _scale(native)
    partitions = list(range(info["kafka"]["partitions"]))
    live = sorted(int(n.rsplit("-", 1)[1]) for n, c in info["components"].items() if c["target"] == "live-store")
    assert live == partitions
    cfg = yaml.safe_load(native["scale/tempo-distributor.yaml"])
    assigned = sorted(p for ps in cfg["block_builder"]["assigned_partitions"].values() for p in ps)
    assert assigned == partitions
    assert cfg["ingest"]["kafka"]["auto_create_topic_default_partitions"] == len(partitions)
    assert f"num.partitions={len(partitions)}" in native["scale/kafka.properties"].splitlines()


def test_the_single_binary_is_the_stacks_tempo_on_other_ports(native):
    stack = yaml.safe_load(native["native/tempo.yaml"])
    single = yaml.safe_load(native["scale/tempo-single.yaml"])
    info = _scale(native)
    assert single["server"]["http_listen_port"] == info["ports"]["singleHttp"]
    assert single["metrics_generator"]["registry"]["external_labels"]["source"] == info["sources"]["single"]
    for key in ("live_store", "overrides", "metrics_generator"):  # same behaviour, other paths and label
        a, b = dict(stack[key]), dict(single[key])
        for drop in ("wal", "shutdown_marker_dir", "storage", "registry"):
            a.pop(drop, None), b.pop(drop, None)
        assert a == b, key


def test_two_distributors_fail_the_build_naming_the_knob(override):
    path = override("{ _config+:: { scale+: { components+: [{ name: 'distributor-2', target: 'distributor' }] } } }")
    with pytest.raises(JsonnetError, match="_config.scale.components must hold exactly one distributor, found 2"):
        render.render("native", path)


def test_no_java_is_one_line(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(kafka.KafkaError) as err:
        kafka.java()
    assert err.value.line() == ("no `java` on PATH: Kafka needs a Java 17+ runtime — install one, "
                                "e.g. `apt-get install openjdk-17-jre-headless`")


def test_no_jars_and_no_maven_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PLANO_OBS_CACHE", str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(kafka.KafkaError) as err:
        kafka.ensure_jars("9.9.9", "2.13")
    assert err.value.cause == f"Kafka 9.9.9's jars are not in {tmp_path / 'kafka-9.9.9' / 'libs'} and there is no `mvn` to fetch them"
    assert "\n" not in err.value.line()


def test_kafka_cluster_ids_never_start_with_a_dash(monkeypatch):
    """One random id in 64 starts with '-', which Kafka's storage tool reads as an option (a CI
    run of `nox -s scale` failed so). The id is drawn again; it stays 22 URL-safe characters."""
    import uuid
    from plano_obs.harness.scale import kafka
    dash = uuid.UUID(bytes=b"\xf8" + b"\x00" * 15)  # base64 of 0xf8… begins with '-'
    draws = iter([dash, uuid.UUID(int=1)])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(draws))
    cid = kafka.new_cluster_id()
    assert not cid.startswith("-") and len(cid) == 22 and cid == "AAAAAAAAAAAAAAAAAAAAAQ"
    import base64
    assert base64.urlsafe_b64encode(dash.bytes).decode().startswith("-")  # the first draw was one
