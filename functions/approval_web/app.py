"""The console: sign-in to the user pool, and the approval pages behind mailed links. GET only shows; only a
POST by the signed-in person a link was sent to decides.

Who is asking is verified here, on every request, rather than by an HTTP API JWT authorizer: the console
serves browsers, whose requests carry a session cookie an authorizer cannot read, and scripted clients,
whose `Authorization: Bearer <Cognito access token>` is verified the same way (creditrefunds.domain.identity:
signature against the pool's keys, issuer, client, token use, expiry). A Function URL, not an API, serves it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from creditrefunds.adapters.config import ConsoleConfig
from creditrefunds.adapters.runtime import answers_doctor, lambda_runtime
from creditrefunds.adapters.sessions import Session
from creditrefunds.domain.approvals import LinkRefused, SignInNeeded, UnknownLink
from creditrefunds.domain.identity import BadToken, Person
from creditrefunds.domain.pages import CONTENT_TYPE, HEADERS, Page, answer, form_fields, sign_in_page
from creditrefunds.usecases.approval import decide, show

logger, tracer, services = lambda_runtime(ConsoleConfig)
app = LambdaFunctionUrlResolver()
LINK = "/approve/<approval_id>"
COOKIE = "__Host-console"


def served(page: Page, cookies: list[Cookie] | None = None) -> Response:
    return Response(page.status, CONTENT_TYPE, page.html, dict(HEADERS), cookies=cookies or [])


def _redirect(to: str, cookies: list[Cookie] | None = None) -> Response:
    return Response(303, CONTENT_TYPE, "", {**HEADERS, "location": to}, cookies=cookies or [])


def _cookie(value: str, max_age: int) -> Cookie:
    return Cookie(COOKIE, value, path="/", secure=True, http_only=True, same_site=SameSite.STRICT_MODE,
                  max_age=max_age)


def _session() -> Session | None:
    for cookie in app.current_event.cookies or []:
        name, _, value = cookie.partition("=")
        if name.strip() == COOKIE:
            return services().sessions.find(value.strip(), datetime.now(UTC))
    return None


def _signed_in() -> tuple[Person | None, Session | None]:
    """The person a request names by its bearer token or its session; BadToken for a token that names nobody."""
    ports, now = services(), datetime.now(UTC)
    authorization = app.current_event.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return ports.tokens.person(authorization[7:].strip(), now), None
    session = _session()
    if session is None:
        return None, None
    try:
        return ports.tokens.person(session.access_token, now), session
    except BadToken:
        return None, None  # the sign-in's hour is over


def _form_allowed(session: Session | None, form: dict[str, str]) -> bool:
    """A form posted with the session cookie carries the session's form token (bearer requests have no cookie)."""
    return session is None or session.form_ok(form.get("csrf", ""))


def _sign_in_first(path: str) -> Response:
    return _redirect("/signin?next=" + quote(path, safe="/"))


@app.get("/signin")
def sign_in_form() -> Response:
    return served(sign_in_page(_next(app.current_event.get_query_string_value("next", "/"))))


@app.post("/signin")
def sign_in() -> Response:
    """The password step; the pool then asks for the TOTP code of a user who set it up."""
    event, ports = app.current_event, services()
    form = form_fields(event.body, event.is_base64_encoded)
    after = _next(form.get("next", "/"))
    try:
        if form.get("session"):
            answered = ports.cognito.respond_to_auth_challenge(
                ClientId=ports.config.console_client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=form["session"],
                ChallengeResponses={"USERNAME": form.get("username", ""),
                                    "SOFTWARE_TOKEN_MFA_CODE": form.get("code", "").strip()})
        else:
            answered = ports.cognito.initiate_auth(
                ClientId=ports.config.console_client_id, AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": form.get("username", ""), "PASSWORD": form.get("password", "")})
    except ClientError as error:
        logger.info("sign-in refused", extra={"code": error.response["Error"]["Code"]})
        return served(sign_in_page(after, error="Sign-in failed: check your user name, password and code.",
                                   status=401))
    if answered.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
        return served(sign_in_page(after, username=form.get("username", ""), session=answered["Session"]))
    if "AuthenticationResult" not in answered:
        return served(answer(403, "Sign-in not finished", "Your account needs a step this console does not offer "
                                                          "(a new password or authenticator set-up): ask an "
                                                          "administrator."))
    token = answered["AuthenticationResult"]["AccessToken"]
    now = datetime.now(UTC)
    person = ports.tokens.person(token, now)
    session_id = ports.sessions.start(token, person.email, now)
    logger.info("signed in", extra={"user": person.user_id})
    return _redirect(after, [_cookie(session_id, ports.config.session_idle_seconds)])


@app.post("/signout")
def sign_out() -> Response:
    session = _session()
    if session is not None and _form_allowed(session, form_fields(app.current_event.body,
                                                                  app.current_event.is_base64_encoded)):
        services().sessions.end(session.session_id)
    return _redirect("/signin", [_cookie("", 0)])


def _next(path: str) -> str:
    """Where to go after signing in: a path of this console only."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


@app.route(LINK, method=["GET", "HEAD"])
def open_link(approval_id: str) -> Response:
    person, session = _signed_in()
    if person is None:
        return _sign_in_first(f"/approve/{approval_id}")
    page = show(services(), approval_id, person, datetime.now(UTC))
    return served(_with_form_token(page, session))


@app.post(LINK)
def press_button(approval_id: str) -> Response:
    ports, event = services(), app.current_event
    person, session = _signed_in()
    form = form_fields(event.body, event.is_base64_encoded)
    if person is not None and not _form_allowed(session, form):
        return served(answer(403, "Form expired", "This form is not from your current session. Open the link "
                                                  "again. Nothing was decided."))
    page = decide(ports, approval_id, form, person, event.request_context.http.source_ip,
                  ports.config.decision_factor_seconds, datetime.now(UTC))
    return served(_with_form_token(page, session))


def _with_form_token(page: Page, session: Session | None) -> Page:
    return Page(page.status, page.html.replace("<input type='hidden' name='csrf' value=''>",
                                               f"<input type='hidden' name='csrf' value='{session.csrf}'>"))\
        if session is not None else page


@app.route(LINK, method=["PUT", "PATCH", "DELETE"])
def other_method(approval_id: str) -> Response:
    return served(answer(405, "Not allowed", "Use the buttons on the approval page."))


@app.exception_handler(LinkRefused)
def refused(error: LinkRefused) -> Response:
    return served(answer(error.status, error.title, error.message))


@app.exception_handler(BadToken)
def bad_token(error: BadToken) -> Response:
    logger.info("a request's token was refused", extra={"why": str(error)})
    return refused(SignInNeeded())


app.not_found(lambda _: refused(UnknownLink()))


@answers_doctor
@logger.inject_lambda_context(log_event=False)  # the path holds the approval id: never logged
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
