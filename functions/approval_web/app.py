"""The console: sign-in to the user pool, and the approval pages behind mailed links. GET only shows; only a
POST by the signed-in person a link was sent to decides.

Who is asking is verified here, on every request, rather than by an HTTP API JWT authorizer: the console
serves browsers, whose requests carry a session cookie an authorizer cannot read, and scripted clients,
whose `Authorization: Bearer <Cognito access token>` is verified the same way (creditrefunds.domain.identity:
signature against the pool's keys, issuer, client, token use, expiry). A Function URL, not an API, serves it.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import console_pages  # noqa: F401 (registers the console's pages on `app`)
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from console_web import (
    after_sign_in,
    app,
    current_session,
    form_allowed,
    logger,
    redirect,
    refused,
    served,
    services,
    session_cookie,
    sign_in_first,
    signed_in,
    tracer,
    with_form_token,
)
from creditrefunds.adapters.hosted_signin import SignInFailed
from creditrefunds.adapters.runtime import answers_doctor
from creditrefunds.domain.approvals import UnknownLink
from creditrefunds.domain.pages import answer, form_fields, sign_in_page
from creditrefunds.usecases.approval import decide, show

LINK = "/approve/<approval_id>"
PRE = "__Host-pre-sign-in"  # the sign-in form's own token (against login CSRF)
PENDING = "__Host-sign-in"  # a single sign-on under way: its state, PKCE verifier and where to go after


def _provider() -> str:
    hosted = services().hosted_signin
    return hosted.provider if hosted.offered else ""


def _pre_cookie(value: str, max_age: int = 900) -> Cookie:
    return Cookie(PRE, value, path="/", secure=True, http_only=True, same_site=SameSite.STRICT_MODE, max_age=max_age)


def _pre_checked(form: dict[str, str]) -> bool:
    """The sign-in form came from this console's own page (its token matches the cookie only this site sets)."""
    cookie = next((c.partition("=")[2] for c in app.current_event.cookies or [] if c.partition("=")[0].strip() == PRE),
                  "")
    return bool(cookie) and hmac.compare_digest(cookie, form.get("pre", ""))


@app.get("/signin")
def sign_in_form() -> Response:
    pre = secrets.token_urlsafe(24)
    return served(sign_in_page(after_sign_in(app.current_event.get_query_string_value("next", "/")), pre,
                               provider=_provider()), [_pre_cookie(pre)])


def _form_expired(after: str) -> Response:
    return redirect("/signin?next=" + quote(after, safe="/?=&"))


@app.post("/auth/start")
def single_sign_on() -> Response:
    """To the hospital's provider through the pool's hosted sign-in; the state and PKCE verifier wait in a cookie
    sent back only to this console's callback (SameSite=Lax: the provider's redirect is a top-level GET)."""
    hosted = services().hosted_signin
    if not hosted.offered:
        return served(answer(404, "No single sign-on", "This console signs people in with its own accounts."))
    form = form_fields(app.current_event.body, app.current_event.is_base64_encoded)
    after = after_sign_in(form.get("next", "/"))
    if not _pre_checked(form):
        return _form_expired(after)
    started = hosted.start()
    pending = Cookie(PENDING, f"{started.state}.{started.verifier}.{quote(after, safe='')}", path="/", secure=True,
                     http_only=True, same_site=SameSite.LAX_MODE, max_age=600)
    return redirect(started.url, [pending])


@app.get("/auth/callback")
def single_sign_on_back() -> Response:
    event, ports = app.current_event, services()
    state, code = event.get_query_string_value("state", "") or "", event.get_query_string_value("code", "") or ""
    pending = next((c.partition("=")[2] for c in event.cookies or [] if c.partition("=")[0].strip() == PENDING), "")
    expected, verifier, after = [*pending.split(".", 2), "", "", ""][:3]
    cleared = Cookie(PENDING, "", path="/", secure=True, http_only=True, same_site=SameSite.LAX_MODE, max_age=0)
    if not (state and code and expected and hmac.compare_digest(state, expected)):
        return served(answer(400, "Sign-in not finished", "This sign-in was not started here, or took too long. "
                                                          "Start again from the sign-in page."), [cleared])
    try:
        token = ports.hosted_signin.finish(code, verifier)
    except SignInFailed as failed:
        logger.warning("single sign-on refused", extra={"why": str(failed)})
        return served(answer(401, "Sign-in not finished", "The sign-in could not be finished. Start again."),
                      [cleared])
    return _start_session(token, after_sign_in(unquote(after)), [cleared])


@app.post("/signin")
def sign_in() -> Response:
    """The password step, then the authenticator's code (or, at the first sign-in, its set-up and first code)."""
    event, ports = app.current_event, services()
    form = form_fields(event.body, event.is_base64_encoded)
    after = after_sign_in(form.get("next", "/"))
    if not _pre_checked(form):
        return _form_expired(after)
    username, pool = form.get("username", ""), ports.pool_signin
    if form.get("setup"):
        step = pool.enroll(username, form.get("session", ""), form.get("code", ""))
    elif form.get("session"):
        step = pool.code(username, form["session"], form.get("code", ""))
    else:
        step = pool.password(username, form.get("password", ""))
    if step.refused:
        logger.info("sign-in refused")
        return served(sign_in_page(after, form["pre"], error=step.refused, status=401, provider=_provider()))
    if step.challenge:
        return served(sign_in_page(after, form["pre"], username=username, session=step.session,
                                   secret=step.secret))
    return _start_session(step.token, after, [_pre_cookie("", 0)])


def _start_session(token: str, after: str, cookies: tuple[Cookie, ...] | list[Cookie] = ()) -> Response:
    """A session for a sign-in the pool just vouched for (its token verified like any request's)."""
    ports, now = services(), datetime.now(UTC)
    person = ports.tokens.person(token, now)
    session_id = ports.sessions.start(token, now)
    logger.info("signed in", extra={"user": person.user_id})
    return redirect(after, [*cookies, session_cookie(session_id, ports.config.session_idle_seconds)])


@app.post("/signout")
def sign_out() -> Response:
    session = current_session()
    if session is not None and form_allowed(session, form_fields(app.current_event.body,
                                                                  app.current_event.is_base64_encoded)):
        with contextlib.suppress(ClientError):  # revoked already, or expired: signed out either way
            services().cognito.global_sign_out(AccessToken=session.access_token)  # its tokens, everywhere
        services().sessions.end(session.session_id)
    return redirect("/signin", [session_cookie("", 0)])


@app.route(LINK, method=["GET", "HEAD"])
def open_link(approval_id: str) -> Response:
    person, session = signed_in()
    if person is None:
        return sign_in_first(f"/approve/{approval_id}")
    page = show(services(), approval_id, person, datetime.now(UTC))
    return served(with_form_token(page, session))


@app.post(LINK)
def press_button(approval_id: str) -> Response:
    ports, event = services(), app.current_event
    person, session = signed_in()
    form = form_fields(event.body, event.is_base64_encoded)
    if person is not None and not form_allowed(session, form):
        return served(answer(403, "Form expired", "This form is not from your current session. Open the link "
                                                  "again. Nothing was decided."))
    page = decide(ports, approval_id, form, person, event.request_context.http.source_ip,
                  ports.config.decision_factor_seconds, datetime.now(UTC))
    return served(with_form_token(page, session))


@app.route(LINK, method=["PUT", "PATCH", "DELETE"])
def other_method(approval_id: str) -> Response:
    return served(answer(405, "Not allowed", "Use the buttons on the approval page."))


app.not_found(lambda _: refused(UnknownLink()))


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # the path holds the approval id: never logged
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
