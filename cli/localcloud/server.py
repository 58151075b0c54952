"""moto's server, keeping its connections open between requests.

werkzeug's development server closes every connection after one answer, because it cannot tell
where a request's body ends and the next request begins. Every request to the local cloud then
paid a TCP connect on both sides and a new server thread: about 0.8 ms of the 2.8 ms of CPU a
DynamoDB request cost here, client and server together. This server reads a request's body whole
by its Content-Length before moto sees it, so the connection is positioned at the next request,
and keeps it open (HTTP/1.1 keep-alive). A chunked request body still closes its connection, as
before. A connection idle for `IDLE_SECONDS` is closed, and every open one when the server stops.
"""

from __future__ import annotations

import io
import socket
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

IDLE_SECONDS = 60  # a function's pooled connection unused this long is closed (its client opens another)


class _KeepAlive(MotoRequestHandler):
    """One connection: requests answered one after another until the client closes it."""

    timeout = IDLE_SECONDS
    _whole = False  # True while answering a request whose body was read whole (outside: errors close)

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm holds the
        # body back until the client's delayed ACK (40 ms per request on a kept connection).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.connections.discard(self.connection)  # type: ignore[attr-defined]
        super().finish()

    def run_wsgi(self) -> None:
        stream = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = stream
            if not self._whole:
                self.close_connection = True
            self._whole = False

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        if "wsgi.input_terminated" in environ:  # a chunked body: read by werkzeug as before, then closed
            return environ
        length = int(self.headers.get("Content-Length") or 0)
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(length) if length > 0 else b"")
        # werkzeug drains whatever is left on the connection after answering (it would take the
        # next request): nothing is left of this one, so it reads from an empty stream until run_wsgi ends.
        self.rfile = io.BytesIO()
        self._whole = True
        return environ

    def log_error(self, format: str, *args: Any) -> None:
        if not format.startswith("Request timed out"):  # an idle connection closed: not an error
            super().log_error(format, *args)

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and self._whole:
            return  # werkzeug closes every connection; this one is at the next request's start
        super().send_header(keyword, value)


class KeptAliveMotoServer(ThreadedMotoServer):
    """Speed: moto's threaded server (a thread per connection) with `_KeepAlive` connections, which moto
    answers as before without a TCP connect and a new thread per request."""

    def _server_entry(self) -> None:
        self._server = make_server(self._ip_address, self._port, DomainDispatcherApplication(create_backend_app),
                                   threaded=True, request_handler=_KeepAlive)
        self._server.connections = set()  # type: ignore[attr-defined]
        self._server_ready_event.set()
        self._server.serve_forever()

    def stop(self) -> None:
        server = self._server
        super().stop()
        for connection in list(getattr(server, "connections", ())):
            try:
                connection.shutdown(socket.SHUT_RDWR)  # its thread's next read ends; nothing answers after stop
            except OSError:
                pass

