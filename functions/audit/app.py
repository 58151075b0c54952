def lambda_handler(event, context):
    if event.get("boom"):
        raise ValueError("boom")
    return {"fn": "audit", "event": event}
