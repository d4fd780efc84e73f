"""`python -m plano_obs.runtime.prebuild NAME...`: builds tools into the cache ahead of their first
use (CI and nox call it, so a test run does not start with a compile)."""
from __future__ import annotations

import sys

from plano_obs.config import settings
from plano_obs.errors import ToolError
from plano_obs.runtime import prombuild, tools


def main(argv: list[str] | None = None) -> int:
    names = argv if argv is not None else sys.argv[1:]
    known = {"prometheus": lambda: prombuild.ensure(prombuild.recipe(settings.load()["versions"])),
             "promtool": lambda: prombuild.ensure_promtool(prombuild.recipe(settings.load()["versions"])),
             "jsonnetfmt": lambda: tools.ensure(tools.jsonnetfmt(settings.version("jsonnetfmt"))),
             "docker-compose": lambda: tools.ensure(tools.compose(settings.version("compose")))}
    try:
        for name in names:
            if name not in known:
                raise ToolError(f"unknown tool {name!r}", f"use one of {', '.join(known)}")
            print(known[name]().bin_dir)
    except ToolError as err:
        print(f"error: {err.line()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
