"""The local cloud's moto server answers request after request on one connection, bodies intact, and
answers nothing once stopped."""

from __future__ import annotations

import http.client
import json
import secrets
import socket
from collections.abc import Iterator

import pytest
from localcloud.server import KeptAliveMotoServer


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    running = KeptAliveMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    running.start()
    try:
        yield running.get_host_and_port()
    finally:
        running.stop()


def _account() -> dict[str, str]:
    """A fresh account of moto's process-global backends: nothing else in the test session is touched."""
    return {"x-moto-account-id": f"{secrets.randbelow(10**11) + 10**11:012d}"}


def _dynamodb(connection: http.client.HTTPConnection, account: dict[str, str], action: str,
              body: dict) -> tuple[http.client.HTTPResponse, dict]:
    connection.request("POST", "/", body=json.dumps(body), headers={
        **account, "X-Amz-Target": f"DynamoDB_20120810.{action}", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=k/20261129/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    response = connection.getresponse()
    return response, json.loads(response.read() or b"{}")


def test_requests_with_bodies_follow_each_other_on_one_connection(server) -> None:
    account = _account()
    connection = http.client.HTTPConnection(*server, timeout=10)
    _dynamodb(connection, account, "CreateTable", {
        "TableName": "t", "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]})
    first = connection.sock
    for n in range(5):
        response, _ = _dynamodb(connection, account, "PutItem",
                                {"TableName": "t", "Item": {"pk": {"S": f"k{n}"}, "v": {"S": "x" * (n * 1000)}}})
        assert response.status == 200
        assert response.getheader("Connection") != "close"
    response, answer = _dynamodb(connection, account, "GetItem", {"TableName": "t", "Key": {"pk": {"S": "k4"}}})
    assert answer["Item"]["v"]["S"] == "x" * 4000  # each body read whole, none taken for the next request
    assert connection.sock is first  # never reconnected


def test_a_chunked_body_closes_its_connection_as_before(server) -> None:
    account = _account()
    connection = http.client.HTTPConnection(*server, timeout=10)
    connection.request("PUT", "/bucket", headers=account)
    connection.getresponse().read()
    body = [b"first line\n", b"second line\n"]
    connection.request("PUT", "/bucket/key", body=iter(body), encode_chunked=True, headers=account)
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    assert response.getheader("Connection") == "close"
    connection.request("PUT", "/bucket/other", body=b"plain", headers=account)  # on a new connection
    assert connection.getresponse().status == 200


def test_a_stopped_server_answers_nothing_on_a_kept_connection() -> None:
    running = KeptAliveMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    running.start()
    account = _account()
    connection = http.client.HTTPConnection(*running.get_host_and_port(), timeout=10)
    _, answer = _dynamodb(connection, account, "ListTables", {})
    assert answer == {"TableNames": []}
    running.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        connection.request("POST", "/", body="{}", headers={**account, "X-Amz-Target": "DynamoDB_20120810.ListTables"})
        connection.getresponse()


def test_a_malformed_request_is_refused_and_its_connection_closed(server) -> None:
    with socket.create_connection(server, timeout=10) as raw:
        raw.sendall(b"NOT A REQUEST LINE AT ALL\r\n\r\n")
        answer = b""
        while chunk := raw.recv(4096):  # the server closes: the read ends
            answer += chunk
    assert b"Error code: 400" in answer  # as HTTP/0.9 would have it: a body, then the connection closed
