"""Port checks before anything starts, so a clash is named instead of a crash later."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from plano_obs.errors import PortInUseError


def in_use(host: str, port: int) -> bool:
    """True when something accepts connections there or the address cannot be bound."""
    probe = "127.0.0.1" if host in ("0.0.0.0", "") else host
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        if s.connect_ex((probe, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def check_free(info: dict, names: list[str] | None = None) -> None:
    """Raises PortInUseError for the first taken port of the stack (stack.json `ports`)."""
    for name, port in info["ports"].items():
        if names is not None and name not in names:
            continue
        if in_use(info["bindAddress"], port):
            owner = info["services"][info["portOwner"][name]]
            held = holder(port)
            by = f" by pid {held[0]} ({held[1]})" if held else ""
            raise PortInUseError(owner, name, f"{info['bindAddress']}:{port}", by)


def holder(port: int) -> tuple[int, str] | None:
    """(pid, command name) of the process listening on a TCP port, from /proc (Linux); None when
    nothing listens there or the owner cannot be seen (another user's process, not Linux)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # local_address is HEXADDR:HEXPORT; state 0A is LISTEN; field 9 is the socket's inode
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name), (proc / "comm").read_text().strip()
        except OSError:
            continue
    return None
