"""The console's pages: the worklist, a case, compliance, unclaimed property, trends, the auditors' search
(creditrefunds.usecases.console)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.event_handler import Response
from console_web import app, page, person_or_sign_in, posted, redirect, refused, served, services
from creditrefunds.domain.approvals import UnknownLink
from creditrefunds.domain.identity import BILLING, COMPLIANCE, OPERATOR, Forbidden
from creditrefunds.domain.pages import answer
from creditrefunds.domain.reports import CMS838_COLUMNS
from creditrefunds.domain.worklist import KINDS, Narrowed
from creditrefunds.usecases import checks, console, worklist
from creditrefunds.usecases.audit import SEARCH_FILTERS
from creditrefunds.usecases.checks import CONFIRMERS
from creditrefunds.usecases.operations import NotRetryable, retry_by

SEARCH_FIELDS = (*SEARCH_FILTERS, "from", "to")


@app.get("/")
def worklist_page() -> Response:
    found = person_or_sign_in("/")
    if isinstance(found, Response):
        return found
    person, session = found
    query = app.current_event.get_query_string_value
    view, today = query("view", "due") or "due", datetime.now(UTC).date()
    asked = {"overdue": query("overdue", "") or "", "min": query("min", "") or "", "older": query("older", "") or "",
             "kind": query("kind", "") or ""}
    narrowed = Narrowed.of(view, today, asked["overdue"] == "1", _amount(asked["min"]),
                           int(asked["older"]) if asked["older"].isdigit() else None, asked["kind"])
    shown = console.worklist(services(), person, view, query("cursor", "") or "", (query("mine", "") or "") == "1",
                             today, narrowed)
    return page("worklist.html", "Taken by me" if shown.mine else "Worklist", person, session, items=shown.items,
                view=shown.view, mine=shown.mine, next_cursor=shown.next_cursor, can_work=person.has(BILLING),
                asked=asked, kinds=KINDS, narrowing=urlencode({k: v for k, v in asked.items() if v}))


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text and len(text) < 20 else None
    except ArithmeticError:
        return None


@app.post("/work/<item_id>/<action>")
def work_on(item_id: str, action: str) -> Response:
    found = posted("/")
    if isinstance(found, Response):
        return found
    person, _, form = found
    ports, now = services(), datetime.now(UTC)
    if action == "take":
        worklist.take(ports, item_id, person, now)
    elif action == "done":
        worklist.done(ports, item_id, person, form.get("what", ""), now)
    else:
        return refused(UnknownLink())
    return redirect("/?mine=1" if action == "take" else "/")


@app.get("/cases/<case_id>")
def case_page_of(case_id: str) -> Response:
    found = person_or_sign_in(f"/cases/{case_id}")
    if isinstance(found, Response):
        return found
    person, session = found
    view = console.case_view(services(), person, case_id)
    return page("case_view.html", f"Case {case_id}", person, session, case=view.case, lines=view.lines,
                 ledger=view.ledger, history=view.history, verified=view.verified, instructions=view.instructions,
                 can_note=person.has(BILLING, COMPLIANCE), can_retry=view.failed and person.has(OPERATOR))


@app.post("/cases/<case_id>/<action>")
def act_on_case(case_id: str, action: str) -> Response:
    found = posted(f"/cases/{case_id}")
    if isinstance(found, Response):
        return found
    person, _, form = found
    ports, now = services(), datetime.now(UTC)
    if action == "notes":
        worklist.note(ports, case_id, person, form.get("note", ""), now)
    elif action == "retry":
        retry_by(ports, case_id, person, now)
    else:
        return refused(UnknownLink())
    return redirect(f"/cases/{case_id}")


@app.get("/compliance")
def compliance_page() -> Response:
    found = person_or_sign_in("/compliance")
    if isinstance(found, Response):
        return found
    person, session = found
    view = console.compliance(services(), person, datetime.now(UTC).date())
    return page("compliance.html", "Compliance", person, session, deadlines=view.deadlines,
                 investigations=view.investigations, cms838=view.cms838, columns=CMS838_COLUMNS)


@app.get("/trends")
def trends_page() -> Response:
    found = person_or_sign_in("/trends")
    if isinstance(found, Response):
        return found
    person, session = found
    view = console.trends(services(), person, datetime.now(UTC).date())
    return page("trends.html", "Trends", person, session, first=view["from"], last=view["to"],
                months=view["months"], patterns=view["patterns"])


@app.get("/unclaimed")
def unclaimed_page() -> Response:
    found = person_or_sign_in("/unclaimed")
    if isinstance(found, Response):
        return found
    person, session = found
    today = datetime.now(UTC).date()
    return page("unclaimed.html", "Unclaimed property", person, session, today=today,
                rows=console.unclaimed(services(), person, today), can_work=person.has(BILLING),
                can_confirm=person.has(*CONFIRMERS))


@app.post("/unclaimed/<action>")
def act_on_unclaimed(action: str) -> Response:
    found = posted("/unclaimed")
    if isinstance(found, Response):
        return found
    person, _, form = found
    ports, now, iid = services(), datetime.now(UTC), form.get("instruction_id", "")
    if action == "address":
        checks.ask_reissue(ports, iid, form, person, now)
    elif action == "confirm":
        checks.confirm_reissue(ports, iid, person, now, form.get("seen", ""))
    elif action == "answered":
        checks.owner_answered(ports, iid, iso_day(form.get("on", "")), person, now)
    else:
        return refused(UnknownLink())
    return redirect("/unclaimed")


def iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {text[:20]!r}") from None


@app.route("/audit", method=["GET", "POST"])
def audit_page() -> Response:
    if app.current_event.request_context.http.method == "GET":
        found: Any = person_or_sign_in("/audit")
        query: dict[str, str] = {}
    else:
        found = posted("/audit")
        query = found[2] if not isinstance(found, Response) else {}
    if isinstance(found, Response):
        return found
    person, session = found[0], found[1]
    records = console.audit_search(services(), person, query) if any(query.get(f) for f in SEARCH_FIELDS) else []
    return page("audit.html", "Audit: search the history", person, session, filters=SEARCH_FILTERS,
                 query={k: v for k, v in query.items() if k != "csrf"}, records=records)


@app.exception_handler(Forbidden)
def forbidden(error: Forbidden) -> Response:
    return served(answer(403, "Not for your role", f"{error}. Nothing was done."))


@app.exception_handler(LookupError)
def not_there(error: LookupError) -> Response:
    return served(answer(404, "Not found", f"{error}. Nothing was done."))


@app.exception_handler(ValueError)
def not_valid(error: ValueError) -> Response:
    return served(answer(400, "Not done", f"{error}"))


@app.exception_handler(checks.NotAllowed)
def not_allowed(error: checks.NotAllowed) -> Response:
    return served(answer(409, "Not done", f"{error}. Nothing was sent."))


@app.exception_handler(NotRetryable)
def not_retryable(error: NotRetryable) -> Response:
    return served(answer(409, "Not retried", f"{error}"))
