"""Benchmark: the console's worklist at a hospital's size on the local cloud.

    .venv/bin/python bench/worklist_local.py [--items 10000] [--pages 5]

Starts the local cloud with its demo users, writes `--items` open work items into the work items table
(as the review and reconcile steps open them: due dates over a year, amounts up to 20,000.00, opened over a
quarter, a fifth taken by the billing user), signs in as billing staff with password and TOTP code, and
pages each view (due date, amount, age, taken by me) `--pages` pages deep, following each page's cursor.

Two figures per request: the console function's own time (its handler, from the local runtime's clock:
the server time the issue bounds at 300 ms) and the whole HTTP round trip. Each page is one Query on the
view's index (no scan), so the server time does not grow with the table on AWS; moto's Query does walk the
index in Python, so the local figure is an upper bound.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "cli"), str(ROOT / "layers" / "core" / "python")]

from creditrefunds.domain.worklist import KINDS, WorkItem  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402
from refunds_cli.demo import http, token_of  # noqa: E402


def seed(cloud: LocalCloud, count: int, billing: str, rng: random.Random) -> None:
    table = cloud.table("WorkItemsTableName")
    opened = datetime(2026, 9, 1, tzinfo=UTC)
    with table.batch_writer() as batch:
        for n in range(count):
            item = WorkItem.of(f"CB-BENCH{n:08d}", f"ACC-B{n:07d}", rng.choice(list(KINDS)),
                               Decimal(rng.randint(1, 2_000_000)) / 100, "Fix the ledger and post the refund.",
                               date(2026, 12, 1) + timedelta(days=rng.randint(-60, 300)),
                               opened + timedelta(minutes=rng.randint(0, 90 * 24 * 60)))
            if rng.random() < 0.2:
                item = item.taken_by(billing, "billing@example.org")
            batch.put_item(Item=item.to_item())


def page_times(cloud: LocalCloud, url: str, token: str, pages: int) -> tuple[list[float], list[float], int]:
    """(server ms, round-trip ms, rows seen) over `pages` pages from `url`, following each Next link."""
    server, round_trip, rows = [], [], 0
    for _ in range(pages):
        started = time.perf_counter()
        status, html = http(url, token=token)
        round_trip.append((time.perf_counter() - started) * 1000)
        assert status == 200, html[:300]
        server.append(next(s for name, s in reversed(cloud.runtime.durations) if name.endswith("ApprovalWebFunction"))
                      * 1000)
        rows += html.count("<tr class='item")
        marker = "id='next' href='/"
        if marker not in html:
            break
        url = cloud.outputs["ApprovalSiteUrl"] + html.split(marker, 1)[1].split("'", 1)[0].replace("&amp;", "&")
    return server, round_trip, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with LocalCloud(ROOT, quiet=True, demo_users=True) as cloud:
        billing: dict[str, Any] = next(u for u in cloud.users["users"] if u["username"] == "billing")
        token = token_of(cloud, billing["email"])
        sub = cloud.client("cognito-idp").get_user(AccessToken=token)["UserAttributes"]
        user_id = next(a["Value"] for a in sub if a["Name"] == "sub")
        started = time.perf_counter()
        seed(cloud, args.items, user_id, random.Random(args.seed))  # noqa: S311 (synthetic data)
        print(f"{args.items} open work items written in {time.perf_counter() - started:.1f} s")
        base = cloud.outputs["ApprovalSiteUrl"]
        http(base, token=token)  # the console's first request starts its worker: not counted
        print(f"{'view':<12}{'pages':>6}{'rows':>6}{'server p50':>12}{'server max':>12}{'round trip p50':>16}")
        worst = 0.0
        for view, url in (("due", f"{base}?view=due"), ("amount", f"{base}?view=amount"),
                          ("age", f"{base}?view=age"), ("taken by me", f"{base}?mine=1")):
            server, round_trip, rows = page_times(cloud, url, token, args.pages)
            worst = max(worst, max(server))
            print(f"{view:<12}{len(server):>6}{rows:>6}{statistics.median(server):>10.0f} ms{max(server):>9.0f} ms"
                  f"{statistics.median(round_trip):>13.0f} ms")
        print(f"slowest page: {worst:.0f} ms of server time (bound: 300 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
