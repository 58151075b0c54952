"""The steps of the product (ingest, review, approve, issue, escalate, audit) over `ports`."""
