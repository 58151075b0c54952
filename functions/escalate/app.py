def lambda_handler(event, context):
    if event.get("boom"):
        raise ValueError("boom")
    return {"fn": "escalate", "event": event}
