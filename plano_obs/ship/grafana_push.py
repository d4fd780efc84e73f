"""`invoke dashboards.push`: the stack's folder, datasources and dashboards into a Grafana that
already runs, through its HTTP API (the PyPI grafana-client). Idempotent: everything is read and
compared first (plan), and only what differs is written (apply), so a second run writes nothing
and says so. Bad input — no token, a malformed option, an unreachable URL, a refused token, a
mapped datasource that does not exist — fails during the plan, before the first write."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

from plano_obs.config import generate
from plano_obs.errors import PlanoError

TOKEN_ENV = "PLANO_GRAFANA_TOKEN"
TOKEN_FILE_ENV = "PLANO_GRAFANA_TOKEN_FILE"
MESSAGE = "plano-observability: invoke dashboards.push"


class PushError(PlanoError):
    """The push cannot go on; carries the URL (credentials stripped) it was pushing to."""

    def __init__(self, cause: str, remedy: str = "", url: str = "") -> None:
        super().__init__(cause, remedy)
        self.url = url


@dataclass
class Action:
    kind: str  # folder | datasource | dashboard
    uid: str
    verb: str  # create | update | unchanged | mapped
    title: str = ""
    send: Callable[[Any], Any] | None = field(default=None, repr=False)

    def line(self) -> str:
        done = {"create": "created", "update": "updated", "unchanged": "unchanged", "mapped": "mapped"}[self.verb]
        return f"{self.kind} {self.uid}" + (f" ({self.title})" if self.title else "") + f": {done}"


def shown(url: str) -> str:
    """The URL without user:password, safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def resolve_token(token: str = "", token_file: str = "", environ: dict[str, str] | None = None) -> str:
    """--token, then --token-file, then $PLANO_GRAFANA_TOKEN, then $PLANO_GRAFANA_TOKEN_FILE."""
    env = os.environ if environ is None else environ
    file = token_file or ("" if token or env.get(TOKEN_ENV) else env.get(TOKEN_FILE_ENV, ""))
    if token:
        return token.strip()
    if file:
        path = Path(file).expanduser()
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise PushError(f"cannot read the token file {path}: {err.strerror}",
                            "pass a readable file to --token-file (or $PLANO_GRAFANA_TOKEN_FILE)") from err
        if not value:
            raise PushError(f"the token file {path} is empty", "write the service account token into it")
        return value
    if env.get(TOKEN_ENV, "").strip():
        return env[TOKEN_ENV].strip()
    raise PushError("no Grafana token given",
                    f"create a service account token (Editor role) in Grafana and pass --token-file FILE or set ${TOKEN_ENV}")


def parse_mappings(values: list[str], ours: dict[str, str]) -> dict[str, str]:
    """`prometheus=UID` options → {our datasource uid: the existing datasource's uid}."""
    mapping = {}
    for value in values:
        key, sep, uid = value.partition("=")
        if not sep or not uid.strip() or key not in ours:
            raise PushError(f"--datasource must be NAME=UID with NAME one of {', '.join(sorted(ours))}, got {value!r}",
                            "e.g. --datasource prometheus=my-prometheus-uid (the uid is in the datasource's URL in Grafana)")
        mapping[ours[key]] = uid.strip()
    return mapping


def _replace(obj: Any, mapping: dict[str, str]) -> Any:
    """Every string equal to one of our datasource uids, replaced by the existing one's."""
    if isinstance(obj, dict):
        return {k: _replace(v, mapping) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace(v, mapping) for v in obj]
    if isinstance(obj, str):
        return mapping.get(obj, obj)
    return obj


@dataclass
class Desired:
    folder_uid: str
    folder_title: str
    datasources: list[dict]  # the API's datasource bodies, not mapped ones
    mapped: dict[str, tuple[str, str]]  # existing uid → (our uid, type it must have)
    dashboards: list[dict]


def desired(info: dict, dashboards: list[dict], mapping: dict[str, str]) -> Desired:
    """What Grafana should hold: the settings' folder and external datasources (not default,
    named after the folder so they never clash with the Grafana's own), the dashboards with
    mapped uids rewritten."""
    folder = info["grafanaFolder"]
    sources, mapped = [], {}
    for ds in info["externalDatasources"]:
        if ds["uid"] in mapping:
            mapped[mapping[ds["uid"]]] = (ds["uid"], ds["type"])
            continue
        sources.append(_replace({
            "uid": ds["uid"], "name": f"{folder['title']} {ds['name']}", "type": ds["type"], "access": ds["access"],
            "url": ds["url"], "isDefault": False, "jsonData": ds.get("jsonData", {}),
        }, mapping))
    boards = [_replace({k: v for k, v in d.items() if k not in ("id", "version")}, mapping) for d in dashboards]
    return Desired(folder["uid"], folder["title"], sources, mapped, boards)


def load_dashboards(folder: Path | None = None) -> list[dict]:
    """The dashboards of folder, by default those of the rendering the stack runs (overrides applied)."""
    return [json.loads(p.read_text()) for p in sorted((folder or generate.rendered() / "dashboards").glob("*.json"))]


def _missing(err: Exception) -> bool:
    return getattr(err, "status_code", None) == 404


def _get(read: Callable[[], dict]) -> dict | None:
    """What Grafana has, or None when it answers 404; any other error is raised."""
    try:
        return read()
    except Exception as err:
        if not _missing(err):
            raise
        return None


def plan(api: Any, want: Desired) -> list[Action]:
    """Reads what Grafana has and returns one action per object; writes nothing."""
    actions = []
    folder = _get(lambda: api.folder.get_folder(want.folder_uid))
    if folder is None:
        actions.append(Action("folder", want.folder_uid, "create", want.folder_title,
                              lambda a: a.folder.create_folder(want.folder_title, uid=want.folder_uid)))
    elif folder.get("title") != want.folder_title:
        actions.append(Action("folder", want.folder_uid, "update", want.folder_title,
                              lambda a: a.folder.update_folder(want.folder_uid, title=want.folder_title, overwrite=True)))
    else:
        actions.append(Action("folder", want.folder_uid, "unchanged", want.folder_title))

    for uid, (ours, kind) in sorted(want.mapped.items()):
        existing = _get(lambda uid=uid: api.datasource.get_datasource_by_uid(uid))
        if existing is None:
            raise PushError(f"no datasource with uid {uid!r} in Grafana (given for {ours})",
                            "check the uid in Grafana (Connections → Data sources: it is in the URL), or drop --datasource to create ours")
        if existing.get("type") != kind:
            raise PushError(f"datasource {uid!r} is of type {existing.get('type')!r}, not {kind!r} (given for {ours})",
                            f"map {ours} to a {kind} datasource")
        actions.append(Action("datasource", uid, "mapped", f"for {ours}"))

    for ds in want.datasources:
        existing = _get(lambda ds=ds: api.datasource.get_datasource_by_uid(ds["uid"]))
        if existing is None:
            actions.append(Action("datasource", ds["uid"], "create", ds["name"],
                                  lambda a, ds=ds: a.datasource.create_datasource(ds)))
        elif all(existing.get(k) == v for k, v in ds.items()):
            actions.append(Action("datasource", ds["uid"], "unchanged", ds["name"]))
        else:
            actions.append(Action("datasource", ds["uid"], "update", ds["name"],
                                  lambda a, ds=ds: a.datasource.update_datasource_by_uid(ds["uid"], ds)))

    for board in want.dashboards:
        existing = _get(lambda board=board: api.dashboard.get_dashboard(board["uid"]))
        same = existing is not None and existing.get("meta", {}).get("folderUid") == want.folder_uid and \
            {k: v for k, v in existing.get("dashboard", {}).items() if k not in ("id", "version")} == board
        body = {"dashboard": board, "folderUid": want.folder_uid, "overwrite": True, "message": MESSAGE}
        actions.append(Action("dashboard", board["uid"], "unchanged" if same else ("update" if existing else "create"),
                              board.get("title", ""), None if same else (lambda a, body=body: a.dashboard.update_dashboard(body))))
    return actions


def _translate(err: Exception, url: str) -> PushError:
    """grafana-client's and the HTTP library's errors as one cause and remedy."""
    from grafana_client.client import GrafanaException, GrafanaUnauthorizedError
    where = shown(url)
    if isinstance(err, GrafanaUnauthorizedError):
        return PushError(f"Grafana at {where} refused the token (401 Unauthorized)",
                         "use a valid, unexpired service account token of this Grafana", where)
    status = getattr(err, "status_code", None)
    if isinstance(err, GrafanaException) and status == 403:
        return PushError(f"Grafana at {where} denied the request (403 Forbidden)",
                         "give the service account the Editor role (Admin to create datasources)", where)
    if isinstance(err, GrafanaException) and status:
        return PushError(f"Grafana at {where} answered {status}: {err.message}", "see Grafana's log for why", where)
    text = str(err)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        reason = errno.group(1).strip()
    elif "NameResolution" in text or "resolve" in text:
        reason = f"cannot resolve the host {urlsplit(url).hostname}"
    else:
        reason = text.split("\n")[0][:200] or type(err).__name__
    return PushError(f"cannot reach Grafana at {where}: {reason}",
                     "check --url (scheme, host, port, path prefix) and that Grafana is up", where)


def connect(url: str, token: str, timeout: float = 10.0) -> Any:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushError(f"--url must be an http(s) URL of Grafana, got {url!r}", "e.g. --url https://grafana.example.com")
    from grafana_client import GrafanaApi
    from grafana_client.client import TokenAuth
    return GrafanaApi.from_url(url, credential=TokenAuth(token), timeout=timeout)


def push(url: str, token: str, want: Desired, dry_run: bool = False, api: Any = None) -> list[Action]:
    """Plans (reads only), then applies what differs in order: folder, datasources, dashboards."""
    api = api or connect(url, token)
    try:
        actions = plan(api, want)
        if not dry_run:
            for action in actions:
                if action.send is not None:
                    action.send(api)
    except PushError:
        raise
    except Exception as err:
        raise _translate(err, url) from err
    return actions


def summary(actions: list[Action], url: str, dry_run: bool) -> str:
    changed = [a for a in actions if a.send is not None]
    if not changed:
        return f"nothing to change: Grafana at {shown(url)} already has the folder, datasources and dashboards as built"
    verb = "would change" if dry_run else "changed"
    return f"{len(changed)} object(s) {verb} in Grafana at {shown(url)}"
