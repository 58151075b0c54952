"""HTTP on 127.0.0.1: each Function URL of the template, and the local cloud's own console.

A request to a Function URL becomes the payload-format-2.0 event that Lambda Function URLs
send, and the function's answer becomes the HTTP response, as in AWS. An AWS_IAM URL refuses
requests that are not SigV4-signed (the signature itself is not checked locally).
"""

from __future__ import annotations

import base64
import html
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from localcloud.lambdas import LambdaRuntime
from localcloud.mailbox import Mailbox

_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml")


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _start(handler: type[BaseHTTPRequestHandler], port: int = 0) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name=f"http-{server.server_port}", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def function_url_event(
    method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
) -> dict[str, Any]:
    """The event a Lambda Function URL sends for one HTTP request (payload format 2.0)."""
    parts = urlsplit(target)
    lowered = {key.lower(): value for key, value in headers.items()}
    content_type = lowered.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES)
    query = parse_qsl(parts.query, keep_blank_values=True)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": client_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if "cookie" in lowered:
        event["cookies"] = [c.strip() for c in lowered["cookie"].split(";")]
    if body:
        event["body"] = body.decode("utf-8") if is_text else base64.b64encode(body).decode()
    return event


def serve_function_url(runtime: LambdaRuntime, function_arn: str, auth_type: str) -> tuple[_Server, str]:
    """Serve one function behind a URL on 127.0.0.1, as its Function URL does in AWS."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if auth_type == "AWS_IAM" and not str(self.headers.get("Authorization", "")).startswith("AWS4-HMAC-SHA256"):
                self._reply(403, {"content-type": "application/json"}, b'{"Message":"Forbidden"}')
                return
            event = function_url_event(self.command, self.path, dict(self.headers), body, self.client_address[0])
            payload, error = runtime.invoke(function_arn, event)
            if error:
                self._reply(502, {"content-type": "application/json"}, b'{"Message":"Internal Server Error"}')
                return
            self._reply_with(json.loads(payload))

        def _reply_with(self, result: Any) -> None:
            if not isinstance(result, dict) or "statusCode" not in result:
                # Function URLs treat any other answer as a JSON body with status 200.
                self._reply(200, {"content-type": "application/json"}, json.dumps(result).encode())
                return
            body = result.get("body") or ""
            raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
            headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
            self._reply(int(result["statusCode"]), headers, raw, result.get("cookies") or [])

        def _reply(self, status: int, headers: dict[str, str], body: bytes, cookies: list[str] | None = None) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            for cookie in cookies or []:
                self.send_header("set-cookie", cookie)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815

        def log_message(self, *args: Any) -> None:  # requests are not logged: URLs carry ids
            return

    return _start(Handler)


def serve_console(mailbox: Mailbox, describe: Callable[[], dict[str, Any]]) -> tuple[_Server, str]:
    """The local cloud's own pages: what is deployed, and the mail SES kept."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/mail.json":
                self._send(200, "application/json", json.dumps([m.as_dict() for m in mailbox.messages()]))
            elif path == "/stack.json":
                self._send(200, "application/json", json.dumps(describe()))
            elif path in ("/", "/mail"):
                self._send(200, "text/html; charset=utf-8", _mail_page(mailbox))
            else:
                self._send(404, "text/plain", "not found")

        def _send(self, status: int, content_type: str, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    return _start(Handler)


def _mail_page(mailbox: Mailbox) -> str:
    rows = []
    for mail in reversed(mailbox.messages()):
        links = "".join(f'<li><a href="{html.escape(link)}">{html.escape(link)}</a></li>' for link in mail.links)
        rows.append(
            f"<article><h2>{html.escape(mail.subject)}</h2>"
            f"<p>To {html.escape(', '.join(mail.to))} &middot; {html.escape(mail.sent_at)}</p>"
            f"<pre>{html.escape(mail.text or mail.html)}</pre><ul>{links}</ul></article>"
        )
    content = "".join(rows) or "<p>No mail sent yet.</p>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Local mail</title></head>"
        f"<body><h1>Mail sent through SES ({len(rows)})</h1>{content}</body></html>"
    )
