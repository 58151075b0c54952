"""What moto's server works out again for every request, worked out once (a patch of the local cloud)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import moto.backends
import moto.core.responses
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from localcloud.patches.patching import replaced


@contextmanager
def routing_worked_out_once() -> Iterator[None]:
    """Speed: what moto's server works out again for every request, though it cannot change while it runs:
    the list of its services (a directory read and a stat per service), the service a host name is
    (a few hundred URL patterns tried in turn: the local cloud's host matches none, its signing
    service's host is then tried), and the method names of the service's response class
    (`inspect.getmembers`, to find the action)."""
    original_list, original_names = moto.backends.list_of_moto_modules, moto.core.responses.method_names_from_class
    original_backend = DomainDispatcherApplication.get_backend_for_host
    listed = list(original_list())
    names: dict[type, list[str]] = {}
    backends: dict[str | None, Any] = {}

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in backends:
            backends[host] = original_backend(self, host)
        return backends[host]

    def method_names_from_class(clazz: Any) -> list[str]:
        if clazz not in names:
            names[clazz] = original_names(clazz)
        return names[clazz]

    with replaced((moto.backends, "list_of_moto_modules", lambda: iter(listed)),
                  (moto.core.responses, "method_names_from_class", method_names_from_class),
                  (DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host)):
        yield
