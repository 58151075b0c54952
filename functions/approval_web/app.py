"""Approval web: the pages behind mailed approval links. GET only shows; only a POST decides."""

from __future__ import annotations

import html
from typing import Any

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><main><h1>{title}</h1><p>{message}</p></main></body></html>"""


def page(status: int, title: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"},
        "body": _PAGE.format(title=html.escape(title), message=html.escape(message)),
    }


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # No approval has been mailed yet (approval by email is not built): every link is unknown.
    return page(404, "Approval link not found", "This approval link is unknown. Nothing was decided.")
