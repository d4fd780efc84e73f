"""How native mode builds Prometheus (plano_obs/runtime/prombuild.py, promui.py): the build tags kept
for the stack's configs, a cache folder that changes with the recipe, the web UI embedded the
way embed.go.tmpl expects, and the pnpm pin read from the settings."""
from __future__ import annotations

import gzip
import re
import subprocess
import time
from pathlib import Path

import pytest

from plano_obs.config import paths, settings
from plano_obs.errors import ToolError
from plano_obs.runtime import prombuild, promui, tools


def _pin() -> str:
    return settings.version("pnpm")


def test_the_stack_needs_no_service_discovery_plugin():
    from plano_obs.config import generate
    files = prombuild.config_files()
    folders = {f.parent.relative_to(generate.rendered()).as_posix() for f in files}
    # every mode and topology that runs a Prometheus is scanned
    assert {"native", "compose", "native/gateway-tier", "scale"} <= folders, folders
    assert prombuild.used_plugins(files) == ()
    r = prombuild.recipe(settings.load()["versions"])
    assert r.tags == ("builtinassets", "remove_all_sd")


def test_each_discovery_keeps_its_plugin():
    config = {
        "scrape_configs": [
            {"job_name": "a", "static_configs": [{"targets": ["x:1"]}]},
            {"job_name": "b", "kubernetes_sd_configs": [{"role": "pod"}], "file_sd_configs": [{"files": ["f"]}]},
            {"job_name": "c", "ec2_sd_configs": [{}], "lightsail_sd_configs": [{}]},
        ],
        "alerting": {"alertmanagers": [{"dns_sd_configs": [{"names": ["am"]}]}]},
    }
    found = prombuild.discoveries(config)
    assert found == {"kubernetes", "file", "ec2", "lightsail", "dns"}
    assert prombuild.plugins(found) == ("aws", "dns", "kubernetes")  # file is always in
    r = prombuild.Recipe("1.2.3", _pin(), prombuild.plugins(found))
    assert r.tags == ("builtinassets", "remove_all_sd", "enable_aws_sd", "enable_dns_sd", "enable_kubernetes_sd")


def test_an_unknown_discovery_fails_the_build(tmp_path):
    f = tmp_path / "prometheus.yml"
    f.write_text("scrape_configs:\n- job_name: x\n  made_up_sd_configs: [{}]\n")
    with pytest.raises(ToolError, match=r"prometheus.yml: made_up_sd_configs is no service discovery"):
        prombuild.used_plugins([f])


def test_the_cache_folder_changes_with_the_recipe():
    base = prombuild.Recipe("1.2.3", "10.30.0")
    keys = {base.key, prombuild.Recipe("1.2.3", "10.30.1").key, prombuild.Recipe("1.2.3", "10.30.0", ("dns",)).key}
    assert len(keys) == 3 and all(re.fullmatch(r"[0-9a-f]{10}", k) for k in keys)
    assert prombuild.Recipe("1.2.3", "10.30.0").key == base.key  # the same recipe, the same folder
    tool = base.tool()
    assert tool.bin_dir.name == f"prometheus-1.2.3-{base.key}"
    # the folder an older build without the UI used is never the new one
    assert tool.bin_dir != paths.cache_dir() / "bin" / "prometheus-1.2.3"
    assert tool.tags == base.tags and tool.module_version == "v0.102.3"
    promtool = base.tool("promtool")
    assert promtool.packages == ("./cmd/promtool",) and promtool.bin_dir != tool.bin_dir
    # both programs build from one module copy
    assert tool.src_name == promtool.src_name == "prometheus"
    # tools without a recipe keep their folders
    assert tools.jsonnetfmt("0.1.0").bin_dir.name == "jsonnetfmt-0.1.0"


def test_the_pnpm_pin_comes_from_the_settings():
    r = prombuild.recipe(settings.load()["versions"])
    assert r.pnpm == _pin()
    assert promui.ui_dir(r.version, r.pnpm).name == f"{r.version}-pnpm-{_pin()}"
    # the workspace's settings (allowBuilds, versioned minimumReleaseAgeExclude) need 10.26+;
    # pnpm 11 needs Node.js 22.13+, above the floor this build promises
    major, minor = (int(x) for x in _pin().split(".")[:2])
    assert (major, minor) >= (10, 26)
    assert major < 11 or promui.MIN_NODE >= (22, 13)
    # another pin (a user's override of versions.pnpm) is another recipe and cache folder
    other = prombuild.recipe(dict(settings.load()["versions"], pnpm="10.99.0"))
    assert other.pnpm == "10.99.0" and other.key != r.key


def _ui_package(tmp_path: Path) -> Path:
    ui = tmp_path / "web" / "ui"
    ui.mkdir(parents=True)
    (ui / "embed.go.tmpl").write_text('//go:build builtinassets\n\npackage ui\n\nimport "embed"\n')
    stale = ui / "static" / "old" / "gone.js.gz"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    return ui


def test_embed_writes_gzip_files_and_go_embed_lines(tmp_path):
    built = tmp_path / "built"
    files = {"mantine-ui/index.html": b"<html>TITLE_PLACEHOLDER</html>",
             "mantine-ui/assets/index-Ab1.js": b"console.log(1);" * 200,
             "mantine-ui/favicon.svg": b"<svg/>", "mantine-ui/assets/empty.txt": b""}
    for name, data in files.items():
        (built / name).parent.mkdir(parents=True, exist_ok=True)
        (built / name).write_bytes(data)
    ui = _ui_package(tmp_path)
    embedded = promui.embed(built, ui)
    want = sorted(f"static/{name}.gz" for name in files)
    assert embedded == want
    for name, data in files.items():
        packed = (ui / "static" / f"{name}.gz").read_bytes()
        assert gzip.decompress(packed) == data
        assert packed[4:8] == b"\0\0\0\0"  # no timestamp: the same UI gives the same binary
    assert not (ui / "static" / "old").exists()  # files of an earlier UI are not embedded
    go = (ui / "embed.go").read_text().splitlines()
    assert go[0] == "//go:build builtinassets" and 'import "embed"' in go
    assert [line.removeprefix("//go:embed ") for line in go if line.startswith("//go:embed")] == want
    assert go[-1] == "var EmbedFS embed.FS"
    assert go[go.index(f"//go:embed {want[-1]}") + 1] == "var EmbedFS embed.FS"  # the lines annotate it


def test_embed_refuses_names_go_embed_cannot_list(tmp_path):
    built = tmp_path / "built" / "mantine-ui"
    built.mkdir(parents=True)
    (built / "a file.js").write_text("x")
    with pytest.raises(ToolError, match="a file.js"):
        promui.embed(tmp_path / "built", _ui_package(tmp_path))
    with pytest.raises(ToolError, match="no files to embed"):
        promui.embed(tmp_path / "nothing", _ui_package(tmp_path / "other"))


def test_a_failed_build_stops_the_builds_beside_it(tmp_path):
    def forever() -> None:  # a build that would never end by itself
        tools.run_with_progress(["tail", "-f", "/dev/null"], tmp_path, {}, "endless", tmp_path / "endless.log")

    def broken() -> None:
        tools.run_with_progress(["false"], tmp_path, {}, "broken", tmp_path / "broken.log")

    start = time.monotonic()
    with pytest.raises(ToolError, match=r"building broken failed \(exit 1\)"):
        tools.concurrently({"endless": forever, "broken": broken})
    assert time.monotonic() - start < 10
    # a build after the failure runs normally
    tools.run_with_progress(["true"], tmp_path, {}, "after", tmp_path / "after.log")
    assert tools.concurrently({"one": lambda: 1, "two": lambda: 2}) == {"one": 1, "two": 2}


def _module() -> Path | None:
    out = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True).stdout.strip()
    mv = prombuild.module_version(settings.version("prometheus"))
    folder = Path(out or "/nonexistent") / "github.com" / "prometheus" / f"prometheus@{mv}"
    return folder if folder.is_dir() else None


def test_the_plugin_table_matches_the_module():
    module = _module()
    if module is None:
        pytest.skip("the Prometheus module is not in the Go module cache (a native build downloads it)")
    table = {}
    for f in sorted((module / "plugins").glob("plugin_*.go")):
        text = f.read_text()
        plugin = f.stem.removeprefix("plugin_")
        assert f"//go:build !remove_all_sd || enable_{plugin}_sd" in text, f
        names = set()
        for pkg in re.findall(r'"github.com/prometheus/prometheus/discovery/([\w/]+)"', text):
            for go in (module / "discovery" / pkg).glob("*.go"):
                if not go.name.endswith("_test.go"):
                    names |= set(re.findall(r'Name\(\) string\s*\{\s*return "(\w+)"', go.read_text()))
        table[plugin] = tuple(sorted(names))
    assert table == {p: tuple(sorted(n)) for p, n in prombuild.PLUGINS.items()}
    minimum = (module / "plugins" / "minimum.go").read_text()
    assert sorted(re.findall(r'prometheus/discovery/(\w+)"', minimum)) == sorted(prombuild.ALWAYS)


def test_go_builds_take_turns(tmp_path, capsys):
    import threading
    marker = tmp_path / "ran"
    step = threading.Thread(target=tools.run_with_progress, args=(["touch", str(marker)], tmp_path, {}, "second",
                                                                  tmp_path / "second.log"), kwargs={"go": True})
    assert tools._go_build.acquire(blocking=False)  # a first Go build is running
    tools._go_holder = "first"
    try:
        step.start()
        seen, end = "", time.monotonic() + 10
        while "waits for the first build" not in seen and time.monotonic() < end:
            seen += capsys.readouterr().out
        assert "second: waits for the first build (one Go build at a time)" in seen
        assert not marker.exists()  # it has not started beside the first
    finally:
        tools._go_build.release()
    step.join(timeout=10)
    assert marker.exists() and not tools._go_build.locked()
