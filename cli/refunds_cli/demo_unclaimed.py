"""The demo's unclaimed-property chapter: the check of ACC-1001's refund comes back undeliverable in accounts
payable's check register; then, as of a day three years on, the escheat function writes its steps and the
due-diligence letter, and the Texas report (a draft) names the property."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from boto3.dynamodb.conditions import Key
from creditrefunds.domain.escheat import add_years
from creditrefunds.domain.unclaimed import Unclaimed

from refunds_cli.escheat import EscheatPorts
from refunds_cli.target import connect


def unclaimed(story: Any, account: str) -> None:
    cloud, today = story.cloud, datetime.now(UTC).date()
    case_id = story.case(account)["case_id"]
    [i] = [item for item in cloud.table("RefundsTableName").query(
        IndexName="by-case", KeyConditionExpression=Key("case_id").eq(case_id))["Items"]
           if item["payee_type"] == "PATIENT"]
    iid, amount = i["instruction_id"], i["amount"]
    story.say(f"\n8. Accounts payable's check register: the check of {iid} ({amount}) comes back undeliverable")
    register = (f"instruction_id,check_number,amount,status,status_date\n{iid},500100,{amount},ISSUED,{today}\n"
                f"{iid},500100,{amount},RETURNED_MAIL,{today}\n")
    story.s3.put_object(Bucket=story.bucket, Key="incoming/ap-check-register.csv", Body=register.encode())
    cloud.wait_idle()
    day = Unclaimed().calendar_of("TX").report_due(add_years(today, 3)) - timedelta(days=100)
    answer = cloud.client("lambda").invoke(FunctionName=cloud.function_name("EscheatFunction"),
                                           Payload=json.dumps({"as_of": day.isoformat()}).encode())
    done = json.load(answer["Payload"])
    story.say(f"  as of {day} (no one cashed it, no one answered), the escheat function writes: "
              f"{', '.join(step.split(' ', 1)[1] for step in done['written'])}")
    letters = story.s3.list_objects_v2(Bucket=story.bucket, Prefix=f"letters/{case_id}/").get("Contents", [])
    story.say("  letters kept for the mail vendor: " + ", ".join(item["Key"] for item in letters))
    from creditrefunds.usecases.escheat import state_report

    ports = EscheatPorts(connect(cloud.endpoint_url, cloud.stack_name, cloud.region))
    data, named = state_report(ports, "TX", day + timedelta(days=99))  # type: ignore[arg-type]
    out = Path(tempfile.gettempdir()) / "demo-TX.naupa"
    out.write_bytes(data)
    story.say(f"  the Texas report (NAUPA, 577-byte records; a draft, recorded nowhere): {out}, "
              f"{len(named)} property, {len(data.splitlines())} records")
