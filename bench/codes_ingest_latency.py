"""Arrival-to-wake latency of the mail and SMS paths into the codes inbox.

Real parts, each in its own process: a throwaway Dovecot (IMAPS on 127.0.0.1),
``vaults codes watch imap://…`` on it, and ``vaults serve --smtp-port …`` with
``TWILIO_AUTH_TOKEN`` set; all share one SQLite store. For each sample a waiter thread here
calls ``Inbox.wait`` for a fresh identifier; once its wake-up FIFO exists, ``t0`` is taken and
the message is sent:

* IMAP IDLE: APPEND over a second IMAP connection → the watcher's IDLE wakes, it fetches,
  parses and pushes. A probe connection IDLEs on the same folder and notes when Dovecot
  notified it (stock Dovecot waits ~0.5 s after a change before notifying), so the table
  also shows the time from that notification to the wake — negative when the watcher found
  the mail first (it re-reads the folder 0.3 s after each IDLE entry, then at doubling
  intervals: samples sent soon after the previous one are caught that way);
* SMTP: ``smtplib`` ``sendmail`` (one open connection) to the receiver;
* Twilio: an SMS webhook POST signed with the official ``twilio`` RequestValidator.

Baseline: the same watcher polling every 10 s (``--interval 10``, a Dovecot without IDLE),
mail appended at evenly spread moments of its polling cycle.

Targets: IMAP p99 < 1 s end to end and < 250 ms after Dovecot's notification; SMTP and
Twilio p99 < 50 ms. Exits 1 on a miss.

Usage: python bench/codes_ingest_latency.py [--samples 150] [--fast-samples 300]
       [--baseline-samples 5] [--warmup 3]
"""

from __future__ import annotations

import argparse
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VAULTS = str(Path(sys.executable).with_name("vaults"))
USER, PASSWORD = "user@example.com", "bench-imap-password"
DOMAIN = "codes.example.net"
TWILIO_TOKEN = "bench-twilio-auth-token"
API_KEY = "bench-api-key-0123456789abcdef"
BASELINE_INTERVAL_S = 10.0


@dataclass
class Row:
    path: str
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    target: str
    ok: bool | None


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mail(code: int, to: str) -> bytes:
    return (
        f"From: Acme <no-reply@acme.example>\r\nTo: {to}\r\nSubject: Your Acme code\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Your Acme verification code is {code}. It expires in 10 minutes.\r\n"
    ).encode()


class Waiter:
    """One ``Inbox.wait`` per sample on a thread; ``wait_registered`` blocks until its FIFO
    exists, ``join`` returns the monotonic time ``wait`` returned."""

    def __init__(self, inbox: Any, wake_dir: Path, identifier: str) -> None:
        self.wake_dir = wake_dir
        self.woke: float | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(inbox, identifier), daemon=True)
        self.thread.start()

    def _run(self, inbox: Any, identifier: str) -> None:
        try:
            inbox.wait(identifier, timeout=60, interval=60)
            self.woke = time.monotonic()
        except BaseException as exc:
            self.error = exc

    def wait_registered(self) -> None:
        deadline = time.monotonic() + 30
        while not (self.wake_dir.is_dir() and any(self.wake_dir.glob("*.fifo"))):
            if time.monotonic() > deadline:
                raise RuntimeError("the waiter never registered")
            time.sleep(0.002)

    def join(self) -> float:
        self.thread.join(70)
        if self.woke is None:
            raise RuntimeError(f"no wake-up: {self.error!r}")
        return self.woke


def sample(
    inbox: Any, wake_dir: Path, identifier: str, send: Callable[[], float | None]
) -> tuple[float, float | None]:
    """(latency from t0, latency from the probe's notification or None)."""
    waiter = Waiter(inbox, wake_dir, identifier)
    waiter.wait_registered()
    t0 = time.monotonic()
    notified = send()
    woke = waiter.join()
    return woke - t0, (woke - notified if notified is not None else None)


@contextmanager
def process(args: list[str], env: dict[str, str], ready: Callable[[], bool]) -> Iterator[None]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"{args[1:3]} did not start: {err}")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def watching(server: Any, ca: Path, env: dict[str, str], *extra: str) -> Any:
    log = Path(tempfile.mkstemp(prefix="vaults-bench-watch-")[1])
    url = f"imap://user%40example.com@127.0.0.1:{server.imaps_port}/INBOX"
    args = [VAULTS, "codes", "watch", "--ca-file", str(ca), *extra, url]

    @contextmanager
    def run() -> Iterator[None]:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                args, env={**env, "VAULTS_IMAP_PASSWORD": PASSWORD}, stdout=out, stderr=out
            )
        try:
            deadline = time.monotonic() + 30
            while b"watching" not in log.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"vaults codes watch did not start: {log.read_text()}")
                time.sleep(0.05)
            time.sleep(0.5)  # it enters IDLE (or its poll loop) right after that line
            yield
        finally:
            proc.terminate()
            proc.wait(10)
            log.unlink(missing_ok=True)

    return run()


class Probe:
    """A second IDLE session on the folder: when Dovecot notifies an IDLE client of new mail
    (``notices``: monotonic times of its EXISTS responses)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.notices: list[float] = []
        self._stop = threading.Event()
        self._changed = threading.Condition()
        client.select_folder("INBOX", readonly=True)
        client.idle()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            responses = self.client.idle_check(timeout=0.2)
            if any(isinstance(r, tuple) and b"EXISTS" in r for r in responses):
                with self._changed:
                    self.notices.append(time.monotonic())
                    self._changed.notify_all()

    def next_notice(self, seen: int, timeout: float) -> float | None:
        with self._changed:
            self._changed.wait_for(lambda: len(self.notices) > seen, timeout)
            return self.notices[seen] if len(self.notices) > seen else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.idle_done()
        self.client.logout()


def imap_client(server: Any, ca: Path) -> Any:
    import ssl

    from imapclient import IMAPClient

    client = IMAPClient(
        "127.0.0.1",
        port=server.imaps_port,
        ssl=True,
        ssl_context=ssl.create_default_context(cafile=str(ca)),
        timeout=30,
    )
    client.login(USER, PASSWORD)
    return client


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=150, help="IMAP samples (~0.6 s each)")
    parser.add_argument("--fast-samples", type=int, default=300, help="SMTP and Twilio samples")
    parser.add_argument("--baseline-samples", type=int, default=5)
    parser.add_argument(
        "--warmup", type=int, default=3, help="unrecorded samples first on each path"
    )
    args = parser.parse_args(argv)

    import httpx
    import trustme
    from twilio.request_validator import RequestValidator

    from vaults.codes.inbox import Inbox
    from vaults.testing.dovecot_server import DovecotMissing, ThrowawayDovecot

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="vaults-bench-") as tmp_name:
        tmp = Path(tmp_name)
        authority = trustme.CA()
        issued = authority.issue_cert("127.0.0.1", "localhost")
        ca, cert, key = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
        authority.cert_pem.write_to_path(str(ca))
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        db = tmp / "codes.db"
        store = f"sqlite:///{db}"
        wake_dir = Path(f"{db}.wake")
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTS_")}
        env["VAULTS_STORE"] = store
        inbox = Inbox(store, env={"VAULTS_LOAD_PLUGINS": ""})
        counter = iter(range(400000, 999999, 7))

        # -- IMAP IDLE --------------------------------------------------------------------
        try:
            dovecot = ThrowawayDovecot(cert, key, {USER: PASSWORD}).start()
        except DovecotMissing as exc:
            if os.environ.get("VAULTS_REQUIRE_DOVECOT") == "1":
                raise
            print(f"IMAP rows skipped: {exc}", file=sys.stderr)
            dovecot = None
        if dovecot is not None:
            try:
                with watching(dovecot, ca, env):
                    sender = imap_client(dovecot, ca)
                    probe = Probe(imap_client(dovecot, ca))
                    totals, after_notify = [], []
                    for i in range(args.warmup + args.samples):
                        to = f"imap{i}@example.com"

                        def append(to: str = to) -> float | None:
                            seen = len(probe.notices)
                            sender.append("INBOX", mail(next(counter), to))
                            return probe.next_notice(seen, timeout=5)

                        total, after = sample(inbox, wake_dir, to, append)
                        if i < args.warmup:
                            continue
                        totals.append(total)
                        if after is not None:
                            after_notify.append(after)
                    sender.logout()
                    probe.close()
                rows.append(summary("IMAP IDLE: APPEND → wake", totals, 1000.0))
                rows.append(
                    summary("IMAP IDLE: Dovecot's notification → wake", after_notify, 250.0)
                )
            finally:
                dovecot.remove()

        # -- SMTP and Twilio through vaults serve -------------------------------------------------
        http_port, smtp_port = free_port(), free_port()
        serve_env = {**env, "VAULTS_API_KEY": API_KEY, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
        base = f"http://127.0.0.1:{http_port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        serve = [VAULTS, "serve", "--port", str(http_port), "--log-level", "warning",
                 "--smtp-port", str(smtp_port), "--smtp-domain", DOMAIN]  # fmt: skip
        with process(serve, serve_env, up):
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
                latencies = []
                for i in range(args.warmup + args.fast_samples):
                    to = f"smtp{i}@{DOMAIN}"
                    message = mail(next(counter), to)

                    def deliver(to: str = to, message: bytes = message) -> None:
                        smtp.sendmail("no-reply@acme.example", [to], message)

                    latency = sample(inbox, wake_dir, to, deliver)[0]
                    if i >= args.warmup:
                        latencies.append(latency)
            rows.append(summary("SMTP: sendmail → wake", latencies, 50.0))

            url = f"{base}/v1/inbound/twilio"
            validator = RequestValidator(TWILIO_TOKEN)
            with httpx.Client(timeout=30) as client:
                latencies = []
                for i in range(args.warmup + args.fast_samples):
                    to = f"+1555{i:07d}"
                    form = {"From": "+15005550006", "To": to,
                            "Body": f"Your Acme code is {next(counter)}"}  # fmt: skip

                    def post(form: dict[str, str] = form) -> None:
                        signature = validator.compute_signature(url, form)
                        answer = client.post(
                            url, data=form, headers={"X-Twilio-Signature": signature}
                        )
                        answer.raise_for_status()

                    latency = sample(inbox, wake_dir, to, post)[0]
                    if i >= args.warmup:
                        latencies.append(latency)
            rows.append(summary("Twilio webhook: POST → wake", latencies, 50.0))

        # -- baseline: the watcher polling every 10 s --------------------------------------------
        if args.baseline_samples > 0:
            polled_server = ThrowawayDovecot(cert, key, {USER: PASSWORD}, idle=False).start()
            try:
                with watching(polled_server, ca, env, "--interval", str(BASELINE_INTERVAL_S)):
                    sender = imap_client(polled_server, ca)
                    latencies = []
                    last_wake = time.monotonic()
                    for i in range(args.baseline_samples):
                        # spread the arrivals evenly over the polling cycle
                        phase = (i + 0.5) / args.baseline_samples * BASELINE_INTERVAL_S
                        time.sleep(max(0.0, last_wake + phase - time.monotonic()))
                        to = f"poll{i}@example.com"
                        message = mail(next(counter), to)

                        def append_polled(message: bytes = message) -> None:
                            sender.append("INBOX", message)

                        latency = sample(inbox, wake_dir, to, append_polled)[0]
                        latencies.append(latency)
                        last_wake = time.monotonic()
                    sender.logout()
                rows.append(summary("IMAP, polling every 10 s (baseline)", latencies, None))
            finally:
                polled_server.remove()
        inbox.close()

    report(rows)
    return 0 if all(row.ok is not False for row in rows) else 1


def summary(path: str, latencies: Sequence[float], target_ms: float | None) -> Row:
    ms = [1000 * value for value in latencies]
    p99 = percentile(ms, 99)
    return Row(
        path=path,
        samples=len(ms),
        p50_ms=percentile(ms, 50),
        p99_ms=p99,
        max_ms=max(ms),
        target=f"p99 < {target_ms:g} ms" if target_ms is not None else "",
        ok=None if target_ms is None else p99 < target_ms,
    )


def report(rows: Sequence[Row]) -> None:
    print("### Codes straight from mail and SMS: arrival-to-wake latency\n")
    print(
        "Time from sending (IMAP APPEND, SMTP `sendmail`, signed Twilio POST) until "
        "`Inbox.wait` returns in another process; `vaults codes watch` and `vaults serve "
        "--smtp-port` run as their own processes against a real Dovecot / aiosmtpd. "
        "\"Dovecot's notification → wake\" is negative when the watcher's own re-read "
        "(0.3 s after each IDLE entry, then doubling) found the mail before Dovecot's "
        "~0.5 s-delayed IDLE notice.\n"
    )
    print("| path | samples | p50 | p99 | max | target | result |")
    print("|---|---:|---:|---:|---:|---:|---|")
    baseline = next((r for r in rows if r.ok is None), None)
    for row in rows:
        result = "baseline" if row.ok is None else ("PASS" if row.ok else "FAIL")
        print(
            f"| {row.path} | {row.samples} | {row.p50_ms:.1f} ms | {row.p99_ms:.1f} ms | "
            f"{row.max_ms:.1f} ms | {row.target} | {result} |"
        )
    if baseline is not None:
        imap = next((r for r in rows if r.path.startswith("IMAP IDLE: APPEND")), None)
        if imap is not None:
            print(
                f"\nIMAP IDLE p50 is {baseline.p50_ms / imap.p50_ms:.0f}× faster than the 10 s "
                f"polling baseline (p50 {baseline.p50_ms / 1000:.1f} s)."
            )


if __name__ == "__main__":
    sys.exit(main())
