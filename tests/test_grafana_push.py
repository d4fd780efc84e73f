"""`invoke dashboards.push` and `invoke rules.export`.

Grafana cannot be obtained on this machine, so these tests prove what the push *sends*: the exact
HTTP requests, recorded by a local stand-in that answers like Grafana's folder, datasource and
dashboard API (404 for what it does not hold, what was written when asked again). They are not a
claim that a real Grafana accepts them; `test_push_into_a_real_grafana` is, and it runs only where
one is given."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from plano_obs.config import paths, settings
from plano_obs.ship import grafana_push, ruler

TOKEN = "glsa_test-token-not-a-secret"


class StandIn(ThreadingHTTPServer):
    """Grafana's /api/folders, /api/datasources/uid and /api/dashboards, in memory."""

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token, self.requests = token, []
        self.folders: dict[str, dict] = {}
        self.datasources: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _, _ in self.requests if m != "GET"]


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        s = self.server
        s.requests.append((self.command, self.path, self.headers.get("Authorization"), body))
        if self.headers.get("Authorization") != f"Bearer {s.token}":
            return self._answer(401, {"message": "Unauthorized"})
        parts, m = self.path.strip("/").split("/"), self.command
        if parts[:2] == ["api", "folders"]:
            if m == "GET":
                folder = s.folders.get(parts[2])
                return self._answer(200, folder) if folder else self._answer(404, {"message": "folder not found"})
            uid = body.get("uid") or parts[2]
            s.folders[uid] = {"uid": uid, "title": body["title"], "version": 1}
            return self._answer(200, s.folders[uid])
        if parts[:3] == ["api", "datasources", "uid"]:
            if m == "GET":
                ds = s.datasources.get(parts[3])
                return self._answer(200, ds) if ds else self._answer(404, {"message": "Data source not found"})
            s.datasources[parts[3]] = {"id": 7, "orgId": 1, "readOnly": False, **body}
            return self._answer(200, {"message": "Datasource updated"})
        if parts == ["api", "datasources"] and m == "POST":
            s.datasources[body["uid"]] = {"id": len(s.datasources) + 1, "orgId": 1, "readOnly": False, **body}
            return self._answer(200, {"message": "Datasource added"})
        if parts[:3] == ["api", "dashboards", "uid"] and m == "GET":
            d = s.dashboards.get(parts[3])
            return self._answer(200, d) if d else self._answer(404, {"message": "Dashboard not found"})
        if parts == ["api", "dashboards", "db"] and m == "POST":
            uid = body["dashboard"]["uid"]
            version = s.dashboards.get(uid, {}).get("dashboard", {}).get("version", 0) + 1
            s.dashboards[uid] = {"dashboard": {**body["dashboard"], "id": 3, "version": version},
                                 "meta": {"folderUid": body["folderUid"]}}
            return self._answer(200, {"status": "success", "uid": uid, "version": version})
        return self._answer(404, {"message": "Not found"})

    do_GET = do_POST = do_PUT = _handle


@pytest.fixture
def grafana():
    server = StandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def info() -> dict:
    return settings.load("compose")


@pytest.fixture(scope="module")
def boards() -> list[dict]:
    return grafana_push.load_dashboards()


def _paths(server: StandIn) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _, _ in server.requests]


def test_a_first_push_reads_everything_then_creates_folder_datasources_dashboards(grafana, info, boards):
    want = grafana_push.desired(info, boards, {})
    actions = grafana_push.push(grafana.url, TOKEN, want)
    folder, ds = info["grafanaFolder"], info["datasources"]
    uids = sorted(b["uid"] for b in boards)
    reads = [("GET", f"/api/folders/{folder['uid']}")] + \
        [("GET", f"/api/datasources/uid/{u}") for u in (ds["prometheus"], ds["tempo"])] + \
        [("GET", f"/api/dashboards/uid/{u}") for u in uids]
    writes = [("POST", "/api/folders")] + [("POST", "/api/datasources")] * 2 + [("POST", "/api/dashboards/db")] * len(uids)
    assert _paths(grafana) == reads + writes
    assert {auth for _, _, auth, _ in grafana.requests} == {f"Bearer {TOKEN}"}
    bodies = [b for m, _, _, b in grafana.requests if m == "POST"]
    assert bodies[0] == {"title": folder["title"], "uid": folder["uid"]}
    external = {d["uid"]: d for d in info["externalDatasources"]}
    for body in bodies[1:3]:
        ours = external[body["uid"]]
        assert body == {"uid": ours["uid"], "name": f"{folder['title']} {ours['name']}", "type": ours["type"],
                        "access": "proxy", "url": ours["url"], "isDefault": False, "jsonData": ours["jsonData"]}
    for body, board in zip(bodies[3:], sorted(boards, key=lambda b: b["uid"])):
        assert body == {"dashboard": board, "folderUid": folder["uid"], "overwrite": True, "message": grafana_push.MESSAGE}
    assert [a.verb for a in actions] == ["create"] * (3 + len(uids))


def test_a_second_push_only_reads_and_says_nothing_changed(grafana, info, boards):
    want = grafana_push.desired(info, boards, {})
    grafana_push.push(grafana.url, TOKEN, want)
    first = len(grafana.requests)
    actions = grafana_push.push(grafana.url, TOKEN, want)
    assert [m for m, _, _, _ in grafana.requests[first:]] == ["GET"] * (3 + len(boards))
    assert {a.verb for a in actions} == {"unchanged"}
    assert grafana_push.summary(actions, grafana.url, False) == \
        f"nothing to change: Grafana at {grafana.url} already has the folder, datasources and dashboards as built"


def test_a_changed_dashboard_or_datasource_is_updated_alone(grafana, info, boards):
    want = grafana_push.desired(info, boards, {})
    grafana_push.push(grafana.url, TOKEN, want)
    first = len(grafana.requests)
    grafana.dashboards[boards[0]["uid"]]["dashboard"]["title"] = "edited in the UI"
    grafana.datasources[info["datasources"]["tempo"]]["url"] = "http://elsewhere:3200"
    actions = grafana_push.push(grafana.url, TOKEN, want)
    assert grafana.writes()[-2:] == [("PUT", f"/api/datasources/uid/{info['datasources']['tempo']}"), ("POST", "/api/dashboards/db")]
    assert len([r for r in grafana.requests[first:] if r[0] != "GET"]) == 2
    assert sorted((a.kind, a.verb) for a in actions if a.verb != "unchanged") == [("dashboard", "update"), ("datasource", "update")]


def test_a_mapped_datasource_is_not_created_and_every_reference_points_at_it(grafana, info, boards):
    grafana.datasources["their-prom"] = {"uid": "their-prom", "type": "prometheus", "name": "Mimir"}
    mapping = grafana_push.parse_mappings(["prometheus=their-prom"], info["datasources"])
    grafana_push.push(grafana.url, TOKEN, grafana_push.desired(info, boards, mapping))
    ours = info["datasources"]["prometheus"]
    assert ("GET", "/api/datasources/uid/their-prom") in _paths(grafana)
    sent = [b for m, _, _, b in grafana.requests if m == "POST"]
    assert [b["uid"] for b in sent if "type" in b] == [info["datasources"]["tempo"]]
    assert ours not in json.dumps(sent) and "their-prom" in json.dumps(sent[1]["jsonData"])
    assert sum(json.dumps(b).count("their-prom") for b in sent[2:]) > 0


def test_a_dry_run_reads_and_writes_nothing(grafana, info, boards):
    actions = grafana_push.push(grafana.url, TOKEN, grafana_push.desired(info, boards, {}), dry_run=True)
    assert grafana.writes() == [] and len(grafana.requests) == 3 + len(boards)
    assert grafana_push.summary(actions, grafana.url, True) == f"{3 + len(boards)} object(s) would change in Grafana at {grafana.url}"


def test_a_refused_token_writes_nothing_and_says_why(grafana, info, boards):
    with pytest.raises(grafana_push.PushError) as err:
        grafana_push.push(grafana.url, "wrong", grafana_push.desired(info, boards, {}))
    assert err.value.line() == (f"Grafana at {grafana.url} refused the token (401 Unauthorized) — "
                                "use a valid, unexpired service account token of this Grafana")
    assert _paths(grafana) == [("GET", f"/api/folders/{info['grafanaFolder']['uid']}")]


def test_a_missing_mapped_datasource_fails_before_any_write(grafana, info, boards):
    mapping = grafana_push.parse_mappings(["tempo=absent"], info["datasources"])
    with pytest.raises(grafana_push.PushError) as err:
        grafana_push.push(grafana.url, TOKEN, grafana_push.desired(info, boards, mapping))
    assert err.value.cause == f"no datasource with uid 'absent' in Grafana (given for {info['datasources']['tempo']})"
    assert grafana.writes() == []


def test_an_unreachable_url_says_so(info, boards):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(grafana_push.PushError) as err:
        grafana_push.push(url, TOKEN, grafana_push.desired(info, boards, {}))
    assert err.value.line() == f"cannot reach Grafana at {url}: Connection refused — " \
                               "check --url (scheme, host, port, path prefix) and that Grafana is up"


@pytest.mark.parametrize("given, expected", [
    (["prometheus"], "--datasource must be NAME=UID with NAME one of prometheus, tempo, got 'prometheus'"),
    (["loki=x"], "--datasource must be NAME=UID with NAME one of prometheus, tempo, got 'loki=x'"),
    (["tempo="], "--datasource must be NAME=UID with NAME one of prometheus, tempo, got 'tempo='"),
])
def test_bad_datasource_options(info, given, expected):
    with pytest.raises(grafana_push.PushError) as err:
        grafana_push.parse_mappings(given, info["datasources"])
    assert err.value.cause == expected


def test_the_token_comes_from_the_flag_then_the_file_then_the_environment(tmp_path):
    file = tmp_path / "token"
    file.write_text("from-file\n")
    env = {grafana_push.TOKEN_ENV: "from-env", grafana_push.TOKEN_FILE_ENV: str(file)}
    assert grafana_push.resolve_token("from-flag", str(file), env) == "from-flag"
    assert grafana_push.resolve_token("", str(file), env) == "from-file"
    assert grafana_push.resolve_token("", "", env) == "from-env"
    assert grafana_push.resolve_token("", "", {grafana_push.TOKEN_FILE_ENV: str(file)}) == "from-file"
    with pytest.raises(grafana_push.PushError) as err:
        grafana_push.resolve_token("", "", {})
    assert err.value.cause == "no Grafana token given"
    with pytest.raises(grafana_push.PushError) as err:
        grafana_push.resolve_token("", str(tmp_path / "absent"), {})
    assert err.value.cause == f"cannot read the token file {tmp_path / 'absent'}: No such file or directory"


def test_the_printed_url_never_carries_credentials():
    assert grafana_push.shown("https://admin:pw@grafana.example.com:8443/grafana/?x=1") == "https://grafana.example.com:8443/grafana/"


def _invoke(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=paths.ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def test_the_task_pushes_once_then_changes_nothing_and_never_prints_the_token(grafana, boards):
    env = {grafana_push.TOKEN_ENV: TOKEN}
    first = _invoke("dashboards.push", "--url", grafana.url, env=env)
    second = _invoke("dashboards.push", "--url", grafana.url, env=env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.splitlines()[-1] == f"{3 + len(boards)} object(s) changed in Grafana at {grafana.url}"
    assert second.stdout.splitlines()[-1] == \
        f"nothing to change: Grafana at {grafana.url} already has the folder, datasources and dashboards as built"
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr


def test_the_task_fails_in_one_line_on_a_refused_token(grafana):
    r = _invoke("dashboards.push", "--url", grafana.url, env={grafana_push.TOKEN_ENV: "wrong-token"})
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"error: Grafana at {grafana.url} refused the token (401 Unauthorized) — "
                                             "use a valid, unexpired service account token of this Grafana"]
    assert "wrong-token" not in r.stderr
    assert grafana.writes() == []


@pytest.mark.skipif(not os.environ.get("PLANO_GRAFANA_URL"),
                    reason="no Grafana on this machine (it cannot be obtained here in any form): set PLANO_GRAFANA_URL "
                           "and PLANO_GRAFANA_TOKEN to push into a real one")
def test_push_into_a_real_grafana(info, boards):
    url, token = os.environ["PLANO_GRAFANA_URL"], grafana_push.resolve_token()
    want = grafana_push.desired(info, boards, {})
    grafana_push.push(url, token, want)
    again = grafana_push.push(url, token, want)
    assert {a.verb for a in again} == {"unchanged"}, [a.line() for a in again]


def test_rules_export_writes_the_mimir_namespace_and_the_prometheus_rule_file(tmp_path, info):
    groups = yaml.safe_load((paths.GENERATED / "compose" / "rules.yml").read_text())["groups"]
    namespace = info["ruler"]["namespace"]
    r = _invoke("rules.export", "--out", str(tmp_path), env={})
    assert r.returncode == 0, r.stderr
    mimir = yaml.safe_load((tmp_path / f"{namespace}.mimir.yaml").read_text())
    prom = yaml.safe_load((tmp_path / f"{namespace}.rules.yml").read_text())
    assert mimir == {"namespace": namespace, "groups": groups}
    assert prom == {"groups": groups}
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{namespace}.mimir.yaml", f"{namespace}.rules.yml"]
    from plano_obs.checks.lint.run import _promtool
    check = subprocess.run([str(_promtool()), "check", "rules", str(tmp_path / f"{namespace}.rules.yml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_rules_export_into_an_unwritable_place_fails_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ruler.ExportError) as err:
        ruler.write(blocker / "sub", [], "plano")
    assert err.value.line() == f"cannot create {blocker / 'sub'}: Not a directory — pass a writable folder to --out"
