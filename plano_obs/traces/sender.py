"""OTLP clients for the replay: one request (protobuf bytes) at a time over gRPC
(TraceService/Export) or HTTP (POST /v1/traces), each failure sorted as the OTLP specification
sorts it: transient ones (the collector is down, restarting, or pushing back) are retried with
exponential backoff for a bounded time; permanent ones (the data is refused) are not."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import grpc
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from plano_obs.errors import PlanoError

PROTOCOLS = ("grpc", "http")
# OTLP/gRPC's retryable codes, and RESOURCE_EXHAUSTED (the collector's memory limiter pushing back)
GRPC_TRANSIENT = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
                            grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
                            grpc.StatusCode.CANCELLED, grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.DATA_LOSS})
HTTP_TRANSIENT = frozenset({429, 502, 503, 504})  # OTLP/HTTP's retryable statuses
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0
_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_CHECK_STACK = "is the stack up (`invoke status`)? is the endpoint right (--endpoint)?"


class SendError(PlanoError):
    """The collector did not take a request. `transient` failures are worth retrying;
    `retry_after` is the wait the collector asked for, if it did."""

    def __init__(self, cause: str, remedy: str = "", transient: bool = False, retry_after: float | None = None) -> None:
        super().__init__(cause, remedy)
        self.transient, self.retry_after = transient, retry_after


class Stopped(Exception):
    """Sending was stopped (an earlier request failed, or the user interrupted)."""


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise PlanoError(f"unknown protocol {protocol!r}", f"use {' or '.join(PROTOCOLS)}")


class Sender:
    """One OTLP client. `send` returns the spans the collector rejected (OTLP partial success)."""

    def __init__(self, endpoint: str, protocol: str, timeout: float = 10.0) -> None:
        check_protocol(protocol)
        self.endpoint, self.protocol, self.timeout = endpoint, protocol, timeout
        if protocol == "grpc":
            # reconnect within a second of the collector coming back (gRPC's default backoff
            # grows to two minutes, longer than a replay retries)
            self.channel = grpc.insecure_channel(endpoint, options=[
                ("grpc.max_send_message_length", 64 << 20), ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.min_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 1000)])
            # bytes in, no serializer: the requests are encoded already
            self._export = self.channel.unary_unary(_EXPORT, request_serializer=None,
                                                    response_deserializer=ExportTraceServiceResponse.FromString)
        else:
            base = endpoint if endpoint.startswith(("http://", "https://")) else f"http://{endpoint}"
            self.url = base.rstrip("/") + ("" if base.endswith("/v1/traces") else "/v1/traces")
            self.session = requests.Session()

    def send(self, data: bytes) -> int:
        resp = self._grpc(data) if self.protocol == "grpc" else self._http(data)
        return resp.partial_success.rejected_spans if resp.HasField("partial_success") else 0

    def _grpc(self, data: bytes) -> ExportTraceServiceResponse:
        try:
            return self._export(data, timeout=self.timeout)
        except grpc.RpcError as err:
            code, details = err.code(), err.details() or ""  # type: ignore[attr-defined]
            cause = f"OTLP/gRPC export to {self.endpoint} failed: {code.name}: {details}"
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details:
                raise SendError(cause, f"a request of {len(data):,} bytes is above the collector's limit "
                                       "(its grpc max_recv_msg_size_mib)") from err
            transient = code in GRPC_TRANSIENT
            raise SendError(cause, _CHECK_STACK if transient else "the collector refused the data: see its log "
                            "(`invoke logs -s collector`)", transient) from err

    def _http(self, data: bytes) -> ExportTraceServiceResponse:
        try:
            r = self.session.post(self.url, data=data, timeout=self.timeout,
                                  headers={"Content-Type": "application/x-protobuf"})
        except requests.RequestException as err:  # refused, reset, timed out: all worth another try
            raise SendError(f"OTLP/HTTP export to {self.url} failed: {type(err).__name__}", _CHECK_STACK, True) from err
        if r.status_code != 200:
            retry_after = r.headers.get("Retry-After", "")
            raise SendError(f"OTLP/HTTP export to {self.url} answered HTTP {r.status_code}: {r.text[:200]}",
                            "check the collector's log (`invoke logs -s collector`)", r.status_code in HTTP_TRANSIENT,
                            float(retry_after) if retry_after.isdigit() else None)
        resp = ExportTraceServiceResponse()
        resp.ParseFromString(r.content)
        return resp

    def close(self) -> None:
        if self.protocol == "grpc":
            self.channel.close()
        else:
            self.session.close()


@dataclass
class Retry:
    """How long to keep retrying a request that fails transiently, and the clock to do it by.
    `pause(seconds)` waits and returns True when sending was stopped meanwhile."""
    retry_for: float = 30.0
    stop: threading.Event | None = None
    clock: Callable[[], float] = time.monotonic
    pause: Callable[[float], bool] | None = None
    notify: Callable[[SendError, float, float], None] | None = None  # (error, wait, seconds left)

    def _pause(self, seconds: float) -> bool:
        if self.pause:
            return self.pause(seconds)
        if self.stop:
            return self.stop.wait(seconds)
        time.sleep(seconds)
        return False


@dataclass
class Sent:
    rejected: int
    retries: int


def send_retrying(sender: Sender, data: bytes, retry: Retry) -> Sent:
    """Sends one request; retries transient failures with exponential backoff (0.5 s doubling
    to 5 s, or what the collector asked for) until `retry.retry_for` seconds have passed since
    the first failure. Only this request is sent again: what the collector took is never resent.
    Raises the last SendError (with `retries` set), or Stopped."""
    retries, deadline, backoff = 0, None, FIRST_BACKOFF_S
    while True:
        if retry.stop and retry.stop.is_set():
            raise Stopped
        try:
            return Sent(sender.send(data), retries)
        except SendError as err:
            now = retry.clock()
            deadline = now + retry.retry_for if deadline is None else deadline
            left = deadline - now
            if not err.transient or left <= 0:
                err.retries = retries  # type: ignore[attr-defined]
                raise
            wait = min(err.retry_after if err.retry_after is not None else backoff, left)
            if retry.notify:
                retry.notify(err, wait, left)
            if retry._pause(wait):
                raise Stopped from err
            retries += 1
            backoff = min(backoff * 2, MAX_BACKOFF_S)
