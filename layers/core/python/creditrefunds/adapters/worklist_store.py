"""The work items table (domain/worklist.py): one item per case and kind, paged by the index of each view.

Only an open item carries `queue` (and an assignee): the views' indexes are sparse, so a closed item leaves
every view and no page reads past it. Paging hands DynamoDB's LastEvaluatedKey back as an opaque cursor.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from creditrefunds.adapters.dynamo import is_condition_failure
from creditrefunds.domain.worklist import (
    EVERYTHING,
    KINDS,
    OPEN,
    PAGE_SIZE,
    VIEWS,
    Narrowed,
    WorkItem,
    cursor_of,
    key_of,
)

SORT_KEYS = {"by-due": "due_key", "by-amount": "amount_key", "by-age": "age_key"}


class WorklistStore:
    def __init__(self, table: Any) -> None:
        self._table = table

    def open(self, item: WorkItem) -> None:
        """Open (or open again) the item; whoever had taken it keeps it."""
        before = self._table.get_item(Key={"item_id": item.item_id}, ConsistentRead=True).get("Item")
        if before is not None and before.get("queue") == OPEN and before.get("assignee"):
            item = item.taken_by(str(before["assignee"]), str(before.get("assignee_email", "")))
        self._table.put_item(Item=item.to_item())

    def get(self, item_id: str) -> WorkItem | None:
        found = self._table.get_item(Key={"item_id": item_id}, ConsistentRead=True).get("Item")
        return WorkItem.from_item(found) if found else None

    def _while_open(self, item_id: str, update: str, values: dict[str, Any], names: dict[str, str],
                    also: str = "") -> bool:
        try:
            self._table.update_item(Key={"item_id": item_id}, UpdateExpression=update,
                                    ConditionExpression="#q = :open" + also,
                                    ExpressionAttributeNames={"#q": "queue", **names},
                                    ExpressionAttributeValues={":open": OPEN, **values})
            return True
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise

    def assign(self, item_id: str, user_id: str, email: str) -> bool:
        """The item taken by a person; False when it is no longer open, or someone has taken it."""
        return self._while_open(item_id, "SET #a = :a, #e = :e", {":a": user_id, ":e": email},
                                {"#a": "assignee", "#e": "assignee_email"}, " AND attribute_not_exists(#a)")

    def close(self, item_id: str) -> bool:
        """Out of every view (worked, or its case closed); False when it was not open."""
        return self._while_open(item_id, "REMOVE #q, #a", {}, {"#a": "assignee"})

    def close_case(self, case_id: str) -> None:
        for kind in KINDS:
            self.close(f"{case_id}.{kind}")

    def page(self, view: str, cursor: str = "", assignee: str = "", limit: int = PAGE_SIZE,
             narrowed: Narrowed = EVERYTHING) -> tuple[list[WorkItem], str]:
        """One page of open items in a view (or one person's, by due date), narrowed on the view's own sort key
        (and by kind), and the cursor of the next page."""
        names: dict[str, str] = {}
        if assignee:
            index, condition, values = "by-assignee", "assignee = :who", {":who": assignee}
            fields = ("item_id", "assignee", "due_key")
        else:
            index, condition, values = VIEWS[view], "#q = :open", {":open": OPEN}
            fields = ("item_id", "queue", SORT_KEYS[VIEWS[view]])
            names["#q"] = "queue"
            if narrowed.below:
                condition += f" AND {SORT_KEYS[index]} < :below"
                values[":below"] = narrowed.below
            elif narrowed.at_least:
                condition += f" AND {SORT_KEYS[index]} >= :least"
                values[":least"] = narrowed.at_least
        request: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition,
                                   "ExpressionAttributeValues": values, "Limit": limit,
                                   "ScanIndexForward": view != "amount" or bool(assignee)}
        if narrowed.kind:
            request["FilterExpression"] = "#k = :kind"
            names["#k"], values[":kind"] = "kind", narrowed.kind
        if names:
            request["ExpressionAttributeNames"] = names
        start = key_of(cursor, fields)
        if start is not None:
            request["ExclusiveStartKey"] = start
        answer = self._table.query(**request)
        return [WorkItem.from_item(i) for i in answer["Items"]], cursor_of(answer.get("LastEvaluatedKey"))
