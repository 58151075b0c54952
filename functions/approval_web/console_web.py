"""The console's plumbing, shared by its routes: who is asking (a bearer token or the session cookie), forms
that must carry the session's form token, and how pages and refusals are served.

Who is asking is verified here, on every request, rather than by an HTTP API JWT authorizer: the console
serves browsers, whose requests carry a session cookie an authorizer cannot read, and scripted clients,
whose `Authorization: Bearer <Cognito access token>` is verified the same way (creditrefunds.domain.identity:
signature against the pool's keys, issuer, client, token use, expiry). A Function URL, not an API, serves it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from creditrefunds.adapters.config import ConsoleConfig
from creditrefunds.adapters.runtime import lambda_runtime
from creditrefunds.adapters.sessions import Session
from creditrefunds.domain.approvals import LinkRefused, SignInNeeded
from creditrefunds.domain.identity import BadToken, Person
from creditrefunds.domain.pages import CONTENT_TYPE, HEADERS, Page, answer, console_page, form_fields

logger, tracer, services = lambda_runtime(ConsoleConfig)
app = LambdaFunctionUrlResolver()
COOKIE = "__Host-console"
EMPTY_TOKEN = "<input type='hidden' name='csrf' value=''>"  # noqa: S105 (the approval page's, filled per session)


def served(page: Page, cookies: list[Cookie] | None = None) -> Response:
    return Response(page.status, CONTENT_TYPE, page.html, dict(HEADERS), cookies=cookies or [])


def redirect(to: str, cookies: list[Cookie] | None = None) -> Response:
    return Response(303, CONTENT_TYPE, "", {**HEADERS, "location": to}, cookies=cookies or [])


def session_cookie(value: str, max_age: int) -> Cookie:
    return Cookie(COOKIE, value, path="/", secure=True, http_only=True, same_site=SameSite.STRICT_MODE,
                  max_age=max_age)


def current_session() -> Session | None:
    for cookie in app.current_event.cookies or []:
        name, _, value = cookie.partition("=")
        if name.strip() == COOKIE:
            return services().sessions.find(value.strip(), datetime.now(UTC))
    return None


def signed_in() -> tuple[Person | None, Session | None]:
    """The person a request names by its bearer token or its session, as the pool has them now (enabled, their
    groups, their second factor; a revoked token names nobody); BadToken for a token the pool did not sign."""
    ports, now = services(), datetime.now(UTC)
    authorization = app.current_event.headers.get("authorization", "")
    session = None
    if authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    else:
        session = current_session()
        if session is None:
            return None, None
        token = session.access_token
    try:
        claimed = ports.tokens.person(token, now)
    except BadToken:
        if session is None:
            raise
        return None, None  # the sign-in's hour is over
    person = ports.people.current(token, claimed.signed_in_at)
    if person is None or person.user_id != claimed.user_id:
        return None, None
    return person, session


def form_allowed(session: Session | None, form: dict[str, str]) -> bool:
    """A form posted with the session cookie carries the session's form token (bearer requests have no cookie)."""
    return session is None or session.form_ok(form.get("csrf", ""))


# Where a sign-in may lead: the console's own pages, by path (never another host: no "//", tab or line break).
_PAGES = re.compile(r"/(approve/[A-Za-z0-9_-]{1,100}|cases/[A-Za-z0-9_.-]{1,100}|compliance|unclaimed|trends|audit)?"
                    r"(\?[A-Za-z0-9=&_-]{0,100})?", re.ASCII)


def after_sign_in(path: str) -> str:
    """Where to go after signing in: one of the console's pages, else its worklist."""
    return path if _PAGES.fullmatch(path) else "/"


def sign_in_first(path: str) -> Response:
    return redirect("/signin?next=" + quote(path, safe="/"))


def person_or_sign_in(path: str) -> tuple[Person, Session | None] | Response:
    person, session = signed_in()
    return sign_in_first(path) if person is None else (person, session)


def posted(path: str) -> tuple[Person, Session | None, dict[str, str]] | Response:
    """A console form: signed in, and carrying the session's form token."""
    event = app.current_event
    person, session = signed_in()
    if person is None:
        return sign_in_first(path)
    form = form_fields(event.body, event.is_base64_encoded)
    if not form_allowed(session, form):
        return served(answer(403, "Form expired", "This form is not from your current session. Nothing was done."))
    return person, session, form


def page(template: str, title: str, person: Person, session: Session | None, **values: Any) -> Response:
    return served(console_page(template, title, person.email or person.actor, session.csrf if session else "",
                               **values))


def with_form_token(shown: Page, session: Session | None) -> Page:
    """The approval page's form, given the session's form token."""
    if session is None:
        return shown
    return Page(shown.status, shown.html.replace(EMPTY_TOKEN, f"<input type='hidden' name='csrf' "
                                                              f"value='{session.csrf}'>"))


@app.exception_handler(LinkRefused)
def refused(error: LinkRefused) -> Response:
    return served(answer(error.status, error.title, error.message))


@app.exception_handler(BadToken)
def bad_token(error: BadToken) -> Response:
    logger.info("a request's token was refused", extra={"why": str(error)})
    return refused(SignInNeeded())
