"""`refunds demo`: the product's main job, end to end, on the local cloud, driven as people would.

Starts the local cloud with the local profile's short waits, drops the sample ledger into
incoming/ as a billing system would, then plays the approvers over HTTP: one refund approved
from its mailed link, one rejected with a reason, one left to wait until it escalates and
approved by the next tier. It shows the accounts-payable file the refunds went to, one case's
history; then a Medicare credit whose contractor's 835 shows it already recouped the money (PLB WO),
so that no check goes; an undeliverable check followed to the state; an auditor's seal and verification.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from creditrefunds.domain.refunds import AP_FILES, ap_day
from creditrefunds.domain.status import Status
from localcloud.cloud import LocalCloud
from localcloud.identity import sign_in
from localcloud.mailbox import SentMail

from refunds_cli import audit, demo_unclaimed, remit
from refunds_cli.target import connect

SAMPLE = "events/ledger-sample.csv"
MEDICARE_SAMPLE, REMITTANCE_SAMPLE = "events/ledger-medicare-sample.csv", "events/remittance-sample.835"
APPROVE, REJECT, ESCALATE, RECOUPED = "ACC-1001", "ACC-5005", "ACC-2002", "ACC-8008"


class DemoFailed(Exception):
    """The story did not happen as it should: the demo says where and exits 1."""


class Story:
    def __init__(self, cloud: LocalCloud, out: IO[str]) -> None:
        self.cloud, self.out = cloud, out
        self.bucket = cloud.outputs["LedgerBucketName"]
        self.s3 = cloud.client("s3")
        self.cases = cloud.table("CasesTableName")
        self.history = cloud.table("HistoryTableName")

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def wait(self, what: str, ready: Callable[[], Any], timeout: float = 120.0) -> Any:
        """Wait for `ready()` to give something, with a progress line on a terminal."""
        start = time.monotonic()
        live = self.out.isatty()
        while True:
            found = ready()
            elapsed = time.monotonic() - start
            if found:
                print(f"{chr(13) if live else ''}  {what}: done after {elapsed:.0f} s{' ' * 20}", file=self.out,
                      flush=True)
                return found
            if elapsed > timeout:
                print(file=self.out)
                raise DemoFailed(f"gave up waiting for {what} after {timeout:.0f} s")
            if live:
                print(f"\r  {what}: waiting {elapsed:4.0f} s", end="", file=self.out, flush=True)
            time.sleep(0.5)

    def case(self, account: str) -> dict[str, Any]:
        items = self.cases.query(IndexName="by-account", KeyConditionExpression=Key("account_id").eq(account))["Items"]
        return items[0] if items else {}

    def mail(self, to_prefix: str, account: str, seen: int = 0) -> SentMail | None:
        found = [m for m in self.cloud.mailbox.messages()
                 if any(t.startswith(to_prefix) for t in m.to) and account in m.subject and m.links]
        return found[seen] if len(found) > seen else None

    def status_is(self, account: str, *statuses: str) -> dict[str, Any] | None:
        case = self.case(account)
        return case if case.get("status") in statuses else None


def http(url: str, form: dict[str, str] | None = None, token: str = "") -> tuple[int, str]:
    """GET (or POST `form`) `url`, as the user whose access token is `token` (none: nobody signed in)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


_TOKENS: dict[tuple[str, str], tuple[float, str]] = {}
TOKEN_REUSE_SECONDS = 120  # well within the console's 5 minutes for a decision's sign-in


def token_of(cloud: LocalCloud, email: str) -> str:
    """A demo user's access token (signed in with password and TOTP code), reused for a couple of minutes while
    the pool still honours it (a sign-out in the console revokes every token of its user)."""
    key = (cloud.endpoint_url, email.lower())
    made = _TOKENS.get(key)
    if made is not None and time.monotonic() - made[0] <= TOKEN_REUSE_SECONDS:
        try:
            cloud.client("cognito-idp").get_user(AccessToken=made[1])
        except ClientError:
            made = None
    if made is None or time.monotonic() - made[0] > TOKEN_REUSE_SECONDS:
        [user] = [u for u in cloud.users["users"] if u["email"].lower() == email.lower()]
        made = (time.monotonic(), sign_in(cloud.client("cognito-idp"), cloud.users["client_id"], user))
        _TOKENS[key] = made
    return made[1]


def decide_link(cloud: LocalCloud, url: str, form: dict[str, str] | None = None, as_: str = "") -> tuple[int, str]:
    """Open (or, with `form`, post to) a mailed approval link signed in as `as_`: by default the person it was
    mailed to, as an approver's browser or script does."""
    if not as_:
        as_ = next(m.to[0] for m in cloud.mailbox.messages(wait=0) if url in m.links)  # (its mail is there)
    return http(url, form, token_of(cloud, as_))


def run_demo(root: Path, out: IO[str] = sys.stdout) -> int:
    with LocalCloud(root, quiet=True, profile="demo", demo_users=True) as cloud:
        story = Story(cloud, out)
        try:
            _play(story, root)
        except DemoFailed as failed:
            story.say(f"\nDEMO FAILED: {failed}")
            return 1
    return 0


def _play(story: Story, root: Path) -> None:
    cloud = story.cloud
    story.say(f"Local cloud up: AWS endpoint {cloud.endpoint_url}")
    story.say(f"  the console {cloud.outputs['ApprovalSiteUrl']} (mailed links open it), "
              f"mail at {cloud.console_url}mail")
    story.say("  its users, one per role, each signs in with a password and an authenticator code: " +
              ", ".join(f"{u['username']} ({', '.join(u['groups'])})" for u in cloud.users["users"]))
    name = Path(SAMPLE).name
    story.s3.upload_file(str(root / SAMPLE), story.bucket, f"incoming/{name}")
    story.say(f"\n1. The billing system drops {SAMPLE} into s3://{story.bucket}/incoming/")
    cloud.wait_idle()
    _print_rejects(story, name)
    story.wait("reviews", lambda: all(story.status_is(a, Status.AWAITING_APPROVAL, Status.WORK_ITEM)
                                      for a in (APPROVE, REJECT, ESCALATE, "ACC-3003", "ACC-4004")))
    _print_cases(story, "Credit balances detected and reviewed")

    story.say("\n2. Approver 1 opens the mailed link for ACC-1001 (the page shows; nothing is decided) and approves")
    approve = story.wait("approval mail for ACC-1001", lambda: story.mail("tier1", APPROVE))
    status, page = decide_link(cloud, approve.links[0])
    story.say(f"  GET  {approve.links[0][:60]}... -> {status}, case still {story.case(APPROVE)['status']}")
    status, page = decide_link(cloud, approve.links[0], {"decision": "approve"})
    story.say(f"  POST Approve, signed in as the approver it was mailed to -> {status}: {_message(page)}")

    story.say("\n3. Approver 1 rejects ACC-5005, with a reason")
    reject = story.wait("approval mail for ACC-5005", lambda: story.mail("tier1", REJECT))
    status, page = decide_link(cloud, reject.links[0], {"decision": "reject",
                                                        "reason": "guarantor asked to keep the credit "
                                                                  "for the next visit"})
    story.say(f"  POST Reject -> {status}: {_message(page)}")

    story.say("\n4. Nobody answers ACC-2002 (tier 2): it waits out its time and escalates to tier 3")
    first = story.wait("approval mail for ACC-2002", lambda: story.mail("tier2", ESCALATE))
    story.say(f"  mailed to {', '.join(first.to)}: {first.subject}")
    escalated = story.wait("escalation to the tier-3 approver", lambda: story.mail("tier3", ESCALATE), 180)
    story.say(f"  mailed to {', '.join(escalated.to)}: {escalated.subject}")
    status, page = decide_link(cloud, first.links[0], {"decision": "approve"})
    story.say(f"  the old tier-2 link now -> {status}: {_message(page)}")
    status, page = decide_link(cloud, escalated.links[0], {"decision": "approve"})
    story.say(f"  tier 3 POST Approve -> {status}: {_message(page)}")

    story.wait("refunds issued", lambda: story.status_is(APPROVE, Status.REFUND_ISSUED)
               and story.status_is(ESCALATE, Status.REFUND_ISSUED))
    _print_outbound(story)
    _print_history(story, ESCALATE)
    _remittance(story, root)
    demo_unclaimed.unclaimed(story, APPROVE)
    _seal_and_verify(story)
    _print_cases(story, "Where every case stands")
    _summary(story)


def _remittance(story: Story, root: Path) -> None:
    """A Medicare duplicate payment asks for approval; then the contractor's 835 shows it took the money back
    by offset (PLB WO): the case turns to CORRECT PAYER_RECOUPED, the link decides nothing, no check goes."""
    story.say(f"\n7. A Medicare credit on {RECOUPED} ({MEDICARE_SAMPLE}), then the contractor's 835")
    story.s3.upload_file(str(root / MEDICARE_SAMPLE), story.bucket, f"incoming/{Path(MEDICARE_SAMPLE).name}")
    asked = story.wait(f"approval mail for {RECOUPED}", lambda: story.mail("tier2", RECOUPED))
    story.say(f"  mailed to {', '.join(asked.to)}: {asked.subject}")
    story.s3.upload_file(str(root / REMITTANCE_SAMPLE), story.bucket, f"incoming/{Path(REMITTANCE_SAMPLE).name}")
    story.say(f"  {REMITTANCE_SAMPLE} arrives: the ingest function hands it to the remittance function (pyx12)")
    case = story.wait(f"{RECOUPED} re-checked", lambda: story.status_is(RECOUPED, Status.WORK_ITEM))
    for line in case["lines"]:
        story.say(f"  {line['action']} {line['reason']} {line['payee_type']} {line['amount']}: {line['evidence']}")
    status, page = decide_link(story.cloud, asked.links[0], {"decision": "approve"})
    story.say(f"  the approver's link now -> {status}: {_message(page)}")
    listed = story.s3.list_objects_v2(Bucket=story.bucket, Prefix="outbound/refunds/").get("Contents", [])
    sent = any(RECOUPED in story.s3.get_object(Bucket=story.bucket, Key=o["Key"])["Body"].read().decode()
               for o in listed)
    story.say(f"  in the accounts-payable file: {'YES (wrong!)' if sent else 'no line for ' + RECOUPED}")
    if sent:
        raise DemoFailed(f"{RECOUPED} reached the accounts-payable file after the payer recouped it")
    cloud = story.cloud
    target = connect(cloud.endpoint_url, cloud.stack_name, cloud.region)
    rows = remit.remittance_rows(target)
    story.say("  `refunds report remittance` for billing staff:")
    for row in rows:
        story.say(f"    {row.kind:<20} account {row.account_id:<9} claim {row.claim_id} {row.amount:>9}")


def _seal_and_verify(story: Story) -> None:
    """What an auditor does: seal the history (signed, in an Object Lock bucket), then verify it all."""
    cloud = story.cloud
    target = connect(cloud.endpoint_url, cloud.stack_name, cloud.region)
    story.say("\n9. An auditor seals the history and verifies every chain, the seals and the refund book")
    with contextlib.redirect_stdout(story.out):
        if audit.seal(target) != 0 or audit.verify(target, None) != 0:
            raise DemoFailed("the history did not verify")


def _message(page: str) -> str:
    start = page.find("<p id='message'>")
    if start < 0:
        return "(the case page)"
    return page[start + len("<p id='message'>"):page.find("</p>", start)]


def _print_rejects(story: Story, name: str) -> None:
    listed = story.s3.list_objects_v2(Bucket=story.bucket, Prefix=f"rejected/{name}/").get("Contents", [])
    lists = sorted((item["LastModified"], item["Key"]) for item in listed if item["Key"].endswith("/errors.jsonl"))
    if not lists:
        story.say("  no rows rejected")
        return
    key = lists[-1][1]  # this upload's (each upload's rejects are kept under it)
    body = story.s3.get_object(Bucket=story.bucket, Key=key)["Body"].read().decode()
    rows = [json.loads(line) for line in body.splitlines() if line]
    story.say(f"  {len(rows)} row(s) rejected, kept in s3://{story.bucket}/{key}:")
    for row in rows:
        story.say(f"    line {row['line']} ({row['txn_id']}): {row['field']}: {row['reason']}")


def _cases(story: Story) -> list[dict[str, Any]]:
    items = [item for item in story.cases.scan()["Items"] if "status" in item]  # a demo's few cases (no holds)
    return sorted(items, key=lambda c: c["account_id"])


def _print_cases(story: Story, title: str) -> None:
    story.say(f"\n{title}:")
    for case in _cases(story):
        due = case["due_date"] if case["due_date"] != "9999-12-31" else "(held)"
        flag = "  OVERDUE" if case.get("overdue") else ""
        story.say(f"  {case['account_id']}  credit {case['credit']:>8}  due {due:<10}  tier {case['tier']}  "
                  f"{case['status']}{flag}")
        for li in case["lines"]:
            target = f" -> {li['target_account_id']}" if "target_account_id" in li else ""
            story.say(f"      {li['action']:<8} {li['reason']:<20} {li.get('payee_type', '-'):<11} "
                      f"{li['amount']:>9}{target}")


def _print_outbound(story: Story) -> None:
    listing = story.s3.list_objects_v2(Bucket=story.bucket, Prefix="outbound/")
    keys = [o["Key"] for o in listing.get("Contents", [])]
    days = sorted({k.split("/")[2] for k in keys if k.startswith(AP_FILES)})
    for day in days:
        files = [k for k in keys if k.startswith(f"{AP_FILES}{day}/")]
        story.say(f"\n5. Accounts payable's files of {day}, s3://{story.bucket}/{AP_FILES}{day}/ (one per refund, "
                  f"{len(files)}), as one:")
        body = ap_day(story.s3.get_object(Bucket=story.bucket, Key=k)["Body"].read().decode() for k in files)
        for line in body.splitlines():
            story.say(f"  {line}")
    work = [k for k in keys if k.startswith("outbound/work-items/")]
    story.say(f"  and {len(work)} work item(s) for billing staff under outbound/work-items/")


def _print_history(story: Story, account: str) -> None:
    case_id = story.case(account)["case_id"]
    story.say(f"\n6. The history of {account} ({case_id}), hash-chained:")
    for r in story.history.query(KeyConditionExpression=Key("case_id").eq(case_id))["Items"]:
        story.say(f"  {r['seq']:>2} {r['at'][11:19]} {r['actor']:<28} {r['action']:<13} "
                  f"{r.get('status_before', '-'):>17} -> {r.get('status_after', '-'):<17} {r['hash'][:12]}")


def _summary(story: Story) -> None:
    cases = _cases(story)
    by_status: dict[str, int] = {}
    for case in cases:
        by_status[case["status"]] = by_status.get(case["status"], 0) + 1
    mails = story.cloud.mailbox.messages()
    overdue = [c["account_id"] for c in cases if c.get("overdue")]
    story.say("\nSummary:")
    story.say(f"  {len(cases)} cases: " + ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())))
    story.say(f"  {len(mails)} mails sent (approvers, the compliance officer); overdue: {', '.join(overdue) or 'none'}")
    story.say("  to look around yourself: `refunds local up`, then `refunds --endpoint-url URL cases`, `mail`, "
              "`audit case ID`, `report aging`")
