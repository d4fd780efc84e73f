"""Port checks before anything starts, so a clash is named instead of a crash later."""
from __future__ import annotations

import socket

from .errors import PortInUseError


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
            raise PortInUseError(owner, name, f"{info['bindAddress']}:{port}")
