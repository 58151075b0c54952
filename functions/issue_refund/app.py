def lambda_handler(event, context):
    if event.get("boom"):
        raise ValueError("boom")
    return {"fn": "issue_refund", "event": event}
