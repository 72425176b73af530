"""The HTTP API of ``vaults serve``: request shapes of existing forwarding recipes, API key,
64 KiB limit, OpenAPI docs."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vaults.codes.inbox import Inbox
from vaults.codes.server import MAX_BODY_BYTES, create_app
from vaults.errors import ConfigurationError
from vaults.host import PluginHost
from vaults.testing.leaks import Exposure, assert_no_leak, record_texts

API_KEY = "api-key-canary-4c1d9e"
URL = "/v1/credentials/totp"


@pytest.fixture
def app_inbox(store_url: str, codes_host: PluginHost) -> Iterator[Inbox]:
    with Inbox(store_url, host=codes_host) as inbox:
        yield inbox


@pytest.fixture
def client(app_inbox: Inbox) -> Iterator[TestClient]:
    with TestClient(create_app(inbox=app_inbox, api_key=API_KEY)) as test_client:
        yield test_client


AUTH = {"x-api-key": API_KEY}


def test_a_zapier_style_push_is_stored_and_waited_for(client: TestClient, app_inbox: Inbox) -> None:
    # The exact JSON a Gmail -> Zapier webhook recipe sends, unknown fields included.
    body = {
        "totp_identifier": "User@Example.com",
        "content": "Subject: Your Acme code\n\nYour verification code is 731946.",
        "source": "email",
        "task_id": "tsk_1",
        "workflow_id": "wpid_1",
        "workflow_run_id": "wr_1",
        "type": "totp",
    }
    response = client.post(URL, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["totp_identifier"] == "User@Example.com"
    assert (data["code"], data["otp_type"], data["source"]) == ("731946", "totp", "email")
    assert (data["task_id"], data["workflow_run_id"]) == ("tsk_1", "wr_1")
    assert data["totp_code_id"].startswith("otp_")
    assert data["created_at"] < data["expired_at"]
    assert app_inbox.wait("user@example.com", timeout=0).value == "731946"


def test_a_twilio_style_sms_push(client: TestClient, app_inbox: Inbox) -> None:
    body = {
        "totp_identifier": "+15550100199",
        "content": "Acme: 118 204 is your code",
        "source": "sms",
    }
    response = client.post(URL, json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["source"] == "phone"
    assert app_inbox.wait("+1 555 010 0199", timeout=0).value == "118204"


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"x-api-key": API_KEY + "x"}])
def test_the_api_key_is_required(client: TestClient, headers: dict[str, str]) -> None:
    body = {"totp_identifier": "a@example.com", "content": "Your code is 482913"}
    assert client.post(URL, json=body, headers=headers).status_code == 401
    assert client.get(URL, headers=headers).status_code == 401
    assert client.get(URL, params={"all": "true"}, headers=AUTH).json() == []  # nothing stored


def test_list_with_filters(client: TestClient) -> None:
    for ident, run, content in [
        ("a@example.com", "wr_1", "Your code is 100001"),
        ("b@example.com", "wr_1", "Your code is 200002"),
        ("a@example.com", "wr_2", "Sign in: https://example.com/magic/Zx81kQ2mN4pL7vR9abcd"),
    ]:
        body = {"totp_identifier": ident, "content": content, "workflow_run_id": run}
        assert client.post(URL, json=body, headers=AUTH).status_code == 200

    def codes(**params: Any) -> list[str]:
        if "totp_identifier" not in params:
            params["all"] = "true"
        response = client.get(URL, params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return [item["code"] for item in response.json()]

    assert codes() == ["https://example.com/magic/Zx81kQ2mN4pL7vR9abcd", "200002", "100001"]
    assert codes(totp_identifier="A@EXAMPLE.COM") == [
        "https://example.com/magic/Zx81kQ2mN4pL7vR9abcd",
        "100001",
    ]
    assert codes(workflow_run_id="wr_1") == ["200002", "100001"]
    assert codes(otp_type="totp", limit=1) == ["200002"]
    assert codes(totp_identifier="a@example.com", otp_type="magic_link") == [
        "https://example.com/magic/Zx81kQ2mN4pL7vR9abcd"
    ]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"otp_type": "sms"}])
def test_bad_list_parameters_are_422(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get(URL, params=params, headers=AUTH).status_code == 422


def test_limit_200_is_accepted(client: TestClient) -> None:
    params = {"limit": 200, "totp_identifier": "a@example.com"}
    assert client.get(URL, params=params, headers=AUTH).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"totp_identifier": "a@example.com", "content": "Thanks for your order!"},
        {"totp_identifier": "a@example.com"},
        {"totp_identifier": "", "content": "Your code is 482913"},
        {"content": "Your code is 482913"},
    ],
)
def test_bad_pushes_are_422(client: TestClient, body: dict[str, str]) -> None:
    response = client.post(URL, json=body, headers=AUTH)
    assert response.status_code == 422
    assert "detail" in response.json()


def test_bodies_over_64_kib_are_refused(client: TestClient) -> None:
    content = "Your code is 482913 " + "x" * MAX_BODY_BYTES
    body = {"totp_identifier": "a@example.com", "content": content}
    response = client.post(URL, json=body, headers=AUTH)
    assert response.status_code == 413


def test_streamed_bodies_over_64_kib_are_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"totp_identifier": "a@example.com", "content": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        URL, content=chunks(), headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 413


def test_a_body_of_exactly_64_kib_is_accepted(client: TestClient) -> None:
    head = b'{"totp_identifier": "a@example.com", "content": "Your code is 482913. '
    tail = b'"}'
    body = head + b"x" * (MAX_BODY_BYTES - len(head) - len(tail)) + tail
    assert len(body) == MAX_BODY_BYTES
    response = client.post(URL, content=body, headers={**AUTH, "content-type": "application/json"})
    assert response.status_code == 200, response.text


def test_openapi_docs_are_off_unless_asked_for(client: TestClient) -> None:
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_openapi_docs_are_served_from_the_installed_package(app_inbox: Inbox) -> None:
    with TestClient(create_app(inbox=app_inbox, api_key=API_KEY, docs=True)) as client:
        _check_docs(client)


def _check_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operations = spec["paths"][URL]
    assert set(operations) == {"get", "post"}
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("name") == "x-api-key" and s.get("in") == "header" for s in schemes.values())
    push_schema = spec["components"]["schemas"]["PushRequest"]
    assert {"totp_identifier", "content"} <= set(push_schema["required"])
    page = client.get("/docs")
    assert page.status_code == 200
    # every script and style sheet comes from this server, none from a CDN
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', page.text))
    assert "cdn" not in page.text.lower()
    for asset in re.findall(r"'(/docs/static/[^']+)'|\"(/docs/static/[^\"]+)\"", page.text):
        path = asset[0] or asset[1]
        assert client.get(path).status_code == 200, path
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def test_no_api_key_no_server(app_inbox: Inbox) -> None:
    with pytest.raises(ConfigurationError, match="VAULTS_API_KEY nor VAULTS_PUSH_KEY"):
        create_app(inbox=app_inbox, env={})
    with pytest.raises(ConfigurationError):
        create_app(inbox=app_inbox, api_key="  ")
    assert create_app(inbox=app_inbox, env={"VAULTS_API_KEY": API_KEY}) is not None


def test_unreachable_store_is_503(codes_host: PluginHost, free_port: int) -> None:
    inbox = Inbox(f"postgresql://u@127.0.0.1:{free_port}/db", host=codes_host)
    with TestClient(create_app(inbox=inbox, api_key=API_KEY)) as test_client:
        body = {"totp_identifier": "a@example.com", "content": "Your code is 482913"}
        assert test_client.post(URL, json=body, headers=AUTH).status_code == 503


def test_the_api_key_leaks_nowhere(
    client: TestClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[Exposure] = []
    body = {"totp_identifier": "a@example.com", "content": "Your code is 482913"}
    for headers in (AUTH, {"x-api-key": "nope"}, {}):
        for response in (
            client.post(URL, json=body, headers=headers),
            client.get(URL, headers=headers),
            client.post(URL, json={"bad": 1}, headers=headers),
        ):
            texts.append(Exposure(f"{response.request.method} response", response.text))
            texts.append(Exposure("response headers", str(dict(response.headers))))
    texts.append(Exposure("openapi", client.get("/openapi.json").text))
    assert_no_leak([*texts, *record_texts(caplog.records)], [API_KEY])
