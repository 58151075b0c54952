"""The console's plumbing, shared by its routes: who is asking (a bearer token or the session cookie), forms
that must carry the session's form token, and how pages and refusals are served.

Who is asking is verified here, on every request, rather than by an HTTP API JWT authorizer: the console
serves browsers, whose requests carry a session cookie an authorizer cannot read, and scripted clients,
whose `Authorization: Bearer <Cognito access token>` is verified the same way (creditrefunds.domain.identity:
signature against the pool's keys, issuer, client, token use, expiry). A Function URL, not an API, serves it.
"""

from __future__ import annotations

from dataclasses import replace
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
    """The person a request names by its bearer token or its session; BadToken for a token that names nobody."""
    ports, now = services(), datetime.now(UTC)
    authorization = app.current_event.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return ports.tokens.person(authorization[7:].strip(), now), None
    session = current_session()
    if session is None:
        return None, None
    try:
        return replace(ports.tokens.person(session.access_token, now), email=session.email), session
    except BadToken:
        return None, None  # the sign-in's hour is over


def form_allowed(session: Session | None, form: dict[str, str]) -> bool:
    """A form posted with the session cookie carries the session's form token (bearer requests have no cookie)."""
    return session is None or session.form_ok(form.get("csrf", ""))


def after_sign_in(path: str) -> str:
    """Where to go after signing in: a path of this console only."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


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
