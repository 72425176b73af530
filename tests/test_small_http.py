"""``vaults.small_http`` on real sockets: misbehaving servers on 127.0.0.1."""

from __future__ import annotations

import gzip
import logging
import socket
import threading
import time
import zlib
from collections.abc import Iterator

import pytest

from vaults.small_http import HttpClient, HttpError, retry_after_seconds
from vaults.testing.misbehaving import MisbehavingServer, Reply, json_reply


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as running:
        yield running


def client_for(server: MisbehavingServer, **kwargs: object) -> HttpClient:
    options: dict[str, object] = {"timeout": 2.0, "backoff_base": 0.02}
    options.update(kwargs)
    return HttpClient(base_url=server.url, **options)  # type: ignore[arg-type]


def test_a_get_is_retried_on_5xx_and_a_post_is_not(server: MisbehavingServer) -> None:
    server.set_script(Reply(503), json_reply(200, {"ok": True}))
    client = client_for(server)
    reply = client.request("GET", "/x")
    assert reply.status == 200 and reply.json() == {"ok": True}
    assert len(server.requests()) == 2
    server.set_script(Reply(503), json_reply(200, {"ok": True}))
    assert client.request("POST", "/x", body=b"{}").status == 503
    assert len(server.requests()) == 1
    client.close()


def test_retries_end_with_the_last_reply(server: MisbehavingServer) -> None:
    server.set_script(Reply(502))
    client = client_for(server, attempts=3)
    assert client.request("GET", "/x").status == 502
    assert len(server.requests()) == 3
    client.close()


def test_retry_after_is_honoured_and_a_long_one_ends_the_retries(
    server: MisbehavingServer,
) -> None:
    server.set_script(Reply(429, headers=(("Retry-After", "1"),)), Reply(200))
    client = client_for(server)
    assert client.request("GET", "/x").status == 200
    first, second = server.requests()
    assert second.at - first.at >= 1.0
    server.set_script(Reply(503, headers=(("Retry-After", "600"),)), Reply(200))
    reply = client.request("GET", "/x")
    assert reply.status == 503 and reply.retry_after() == 600.0
    assert len(server.requests()) == 1
    client.close()


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds(503, "Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == 10.0
    assert retry_after_seconds(429, "soon") is None
    assert retry_after_seconds(500, "5") is None  # only 429 and 503 ask to wait


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (Reply(reset=True), "closed"),
        (Reply(close=True), "closed"),
        (Reply(body=b"x" * 100, reset_mid=True), "closed"),
        (Reply(body=b"x" * 100, truncate=10), "closed"),
        (Reply(delay=3.0), "timeout"),
    ],
    ids=["reset", "close", "reset-mid", "truncated", "silent"],
)
def test_faults_raise_typed_errors(server: MisbehavingServer, fault: Reply, kind: str) -> None:
    server.set_script(fault)
    client = client_for(server, timeout=0.5)
    with pytest.raises(HttpError) as caught:
        client.request("GET", "/x?token=query-canary")
    assert caught.value.kind == kind
    assert "query-canary" not in str(caught.value) and server.url not in str(caught.value)
    client.close()


def test_a_trickling_reply_is_cut_near_the_deadline(server: MisbehavingServer) -> None:
    server.set_script(Reply(body=b"y" * 200, trickle=0.05))
    client = client_for(server, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(HttpError, match=r"no answer within 0\.5 s"):
        client.request("GET", "/x")
    assert time.monotonic() - started < 1.5
    client.close()


def test_nothing_listening_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = HttpClient(timeout=1.0)
    with pytest.raises(HttpError) as caught:
        client.request("GET", f"http://127.0.0.1:{port}/x")
    assert caught.value.kind == "connect"


def test_size_cap_counts_decoded_bytes(server: MisbehavingServer) -> None:
    client = client_for(server, max_bytes=1000)
    server.set_script(Reply(body=b"z" * 1001))
    with pytest.raises(HttpError) as caught:
        client.request("GET", "/x")
    assert caught.value.kind == "too-large"
    bomb = gzip.compress(b"0" * 5_000_000)
    server.set_script(Reply(body=bomb, headers=(("Content-Encoding", "gzip"),)))
    with pytest.raises(HttpError, match="larger than 1000 bytes"):
        client.request("GET", "/x")
    client.close()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
def test_compressed_replies_are_decoded(
    server: MisbehavingServer, encoding: str, encode: object
) -> None:
    assert callable(encode)
    server.set_script(Reply(body=encode(b'{"a": 1}'), headers=(("Content-Encoding", encoding),)))
    client = client_for(server)
    reply = client.request("GET", "/x")
    assert reply.json() == {"a": 1} and "content-encoding" in reply.headers
    client.close()


def test_an_unknown_encoding_or_a_corrupt_body_is_refused(server: MisbehavingServer) -> None:
    client = client_for(server)
    server.set_script(Reply(body=b"????", headers=(("Content-Encoding", "br"),)))
    with pytest.raises(HttpError, match="content encoding") as caught:
        client.request("GET", "/x")
    assert caught.value.kind == "protocol"
    server.set_script(Reply(body=b"not gzip at all", headers=(("Content-Encoding", "gzip"),)))
    with pytest.raises(HttpError, match="corrupt"):
        client.request("GET", "/x")
    client.close()


def test_keep_alive_reuses_one_connection_until_it_idles_too_long(
    server: MisbehavingServer,
) -> None:
    server.set_script(Reply(200, b"{}"))
    client = client_for(server, idle_expiry=0.3)
    for _ in range(3):
        client.request("GET", "/x")
    assert server.connections == 1
    time.sleep(0.4)
    client.request("GET", "/x")
    assert server.connections == 2
    client.close()


def _closing_server(answers: int) -> tuple[str, list[bytes], threading.Thread]:
    """Answers each connection's first request (keep-alive), then closes it 50 ms later:
    a server that drops idle sockets sooner than the client expects."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen: list[bytes] = []

    def serve() -> None:
        with listener:
            for _ in range(answers):
                conn, _ = listener.accept()
                with conn:
                    seen.append(conn.recv(65536))
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    time.sleep(0.05)
                    conn.shutdown(socket.SHUT_RDWR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", seen, thread


def test_a_socket_the_server_closed_while_idle_is_not_used() -> None:
    url, seen, thread = _closing_server(2)
    client = HttpClient(base_url=url, timeout=2.0, attempts=1)
    assert client.request("GET", "/one").body == b"ok"
    time.sleep(0.2)  # the server has closed the kept-alive socket
    # one try only, and a POST: it must go out on a fresh connection, not into the dead one
    assert client.request("POST", "/two", body=b"x").body == b"ok"
    thread.join(timeout=5)
    assert [request.split(b" ")[1] for request in seen] == [b"/one", b"/two"]
    client.close()


def test_params_headers_and_logs(
    server: MisbehavingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="vaults.http")
    server.set_script(Reply(200, b"{}"))
    client = client_for(server, headers={"User-Agent": "t"})
    client.request("GET", "/x", params={"search": "a b&c"}, headers={"X-Key": "header-canary"})
    (request,) = server.requests()
    assert request.query == "search=a+b%26c" and request.headers["x-key"] == "header-canary"
    assert request.headers["user-agent"] == "t" and "origin" not in request.headers
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "GET /x -> 200" in logged and "search" not in logged and "canary" not in logged
    client.close()


def test_schemes_and_a_closed_client() -> None:
    client = HttpClient(timeout=1.0, schemes=frozenset({"https"}))
    with pytest.raises(HttpError, match=r"only https:// addresses") as caught:
        client.request("GET", "http://127.0.0.1:9/x")
    assert caught.value.kind == "protocol"
    client.close()
    assert client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        client.request("GET", "https://127.0.0.1:9/x")
