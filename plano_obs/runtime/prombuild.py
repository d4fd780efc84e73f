"""The Prometheus native mode runs, and promtool: built from the release's Go module with its
web UI embedded (promui.py) and with only the service discoveries the stack's Prometheus configs
use. Prometheus registers each discovery in plugins/plugin_<name>.go behind the constraint
`!remove_all_sd || enable_<name>_sd`; `remove_all_sd` leaves out all of them (the cloud SDKs are
most of the compile time and half the binary) and `enable_<name>_sd` keeps one back. File and
HTTP discovery (plugins/minimum.go) and static_configs are always in.

The recipe (tags, UI, pnpm pin) is hashed into the binary's cache folder name, so a binary
built another way — an older build without the UI, say — is never taken for this one."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from plano_obs.errors import ToolError
from plano_obs.runtime import promui, tools

MODULE = "github.com/prometheus/prometheus"

# plugins/plugin_<plugin>.go → the `<name>_sd_configs` keys its discovery package registers (the
# SDConfig Name() of each), read from the v0.314.0 sources. tests/test_prombuild.py checks this
# table against the module when it is in the Go module cache.
PLUGINS: dict[str, tuple[str, ...]] = {
    "aws": ("aws", "ec2", "ecs", "elasticache", "lightsail", "msk", "rds"),
    "azure": ("azure",), "consul": ("consul",), "digitalocean": ("digitalocean",), "dns": ("dns",),
    "eureka": ("eureka",), "gce": ("gce",), "hetzner": ("hetzner",), "ionos": ("ionos",),
    "kubernetes": ("kubernetes",), "linode": ("linode",), "marathon": ("marathon",),
    "moby": ("docker", "dockerswarm"), "nomad": ("nomad",), "oci": ("oci",), "openstack": ("openstack",),
    "outscale": ("outscale",), "ovhcloud": ("ovhcloud",), "puppetdb": ("puppetdb",), "scaleway": ("scaleway",),
    "stackit": ("stackit",), "triton": ("triton",), "uyuni": ("uyuni",), "vultr": ("vultr",), "xds": ("kuma",),
    "zookeeper": ("serverset", "nerve"),
}
ALWAYS = ("file", "http")  # plugins/minimum.go: in every build
_PLUGIN_OF = {name: plugin for plugin, names in PLUGINS.items() for name in names}


def module_version(version: str) -> str:
    """Prometheus 3.x releases are published as Go module versions v0.3xx.y."""
    major, minor, patch = (int(x) for x in version.split("."))
    return f"v0.{major}{minor:02d}.{patch}"


def discoveries(config: object) -> set[str]:
    """Every `<name>` of a `<name>_sd_configs` key anywhere in a Prometheus config (scrape
    configs, alertmanagers)."""
    found: set[str] = set()
    if isinstance(config, dict):
        for key, value in config.items():
            if isinstance(key, str) and key.endswith("_sd_configs"):
                found.add(key.removesuffix("_sd_configs"))
            found |= discoveries(value)
    elif isinstance(config, list):
        for item in config:
            found |= discoveries(item)
    return found


def plugins(names: Iterable[str], where: str = "the Prometheus configs") -> tuple[str, ...]:
    """The plugins that must stay in for these discoveries, sorted."""
    out = set()
    for name in names:
        if name in ALWAYS:
            continue
        if name not in _PLUGIN_OF:
            raise ToolError(f"{where}: {name}_sd_configs is no service discovery Prometheus knows",
                            f"use one of {', '.join(sorted(set(_PLUGIN_OF) | set(ALWAYS)))}, or add its plugin "
                            "to PLUGINS in plano_obs/runtime/prombuild.py")
        out.add(_PLUGIN_OF[name])
    return tuple(sorted(out))


def config_files(root: Path | None = None) -> list[Path]:
    """The Prometheus configs the stack renders, in every mode and topology, with the user's
    overrides (an extra scrape job's discovery must be in the build)."""
    if root is None:
        from plano_obs.config import generate
        root = generate.rendered()
    return sorted(root.glob("**/*prometheus*.yml"))


def used_plugins(files: Iterable[Path]) -> tuple[str, ...]:
    found: set[str] = set()
    for f in files:
        try:
            config = yaml.safe_load(f.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ToolError(f"{f}: cannot read it ({err})", "run `invoke build`") from err
        found |= set(plugins(discoveries(config), str(f)))
    return tuple(sorted(found))


@dataclass(frozen=True)
class Recipe:
    """How Prometheus is built: the release, the pnpm that builds its UI, the plugins kept."""

    version: str
    pnpm: str
    plugins: tuple[str, ...] = ()

    @property
    def tags(self) -> tuple[str, ...]:
        return ("builtinassets", "remove_all_sd", *(f"enable_{p}_sd" for p in self.plugins))

    @property
    def key(self) -> str:
        """10 hex digits of the recipe: part of the cache folder's name."""
        recipe = {"tags": self.tags, "ui": promui.BUILT, "pnpm": self.pnpm}
        return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]

    def tool(self, program: str = "prometheus") -> tools.GoTool:
        vpkg = "github.com/prometheus/common/version"
        mv = module_version(self.version)
        return tools.GoTool(
            name=program, version=self.version, module=MODULE, module_version=mv,
            packages=(f"./cmd/{program}",), copy_module=True, tags=self.tags, key=self.key, src_name="prometheus",
            ldflags=(f"-X {vpkg}.Version={self.version}", f"-X {vpkg}.Branch=HEAD",
                     f"-X {vpkg}.Revision=module-{mv}", f"-X {vpkg}.BuildUser=plano-observability"))


def recipe(versions: dict[str, str], files: Iterable[Path] | None = None) -> Recipe:
    """The recipe for these pins (settings' `versions`) and the rendered Prometheus configs."""
    return Recipe(versions["prometheus"], versions["pnpm"], used_plugins(config_files() if files is None else files))


def _with_ui(r: Recipe):
    def prepare(src: Path) -> None:
        ui = src / "web" / "ui"
        promui.embed(promui.build(r.version, r.pnpm, ui), ui)
    return prepare


def ensure(r: Recipe) -> tools.GoTool:
    """The Prometheus server of this recipe, built (with its UI) unless cached."""
    tool = r.tool("prometheus")
    if not tool.ready:
        tools.go_version()
        promui.node_version()  # before anything starts: a missing Node.js is one clear line
    return tools.ensure(tool, _with_ui(r))


def ensure_promtool(r: Recipe) -> tools.GoTool:
    """promtool, with the same discoveries as the server (a config it accepts, the server
    loads). It serves no UI, so it needs no Node.js; `invoke up` never waits for it."""
    return tools.ensure(r.tool("promtool"))
