"""Healthcare credit-balance refunds.

- `domain`: the rules of DOMAIN.md and their models, pure (no AWS, no I/O, no clock).
- `usecases`: what each step of the product does, over the interfaces in `usecases.ports`.
- `adapters`: DynamoDB, S3, SES, EventBridge and Step Functions behind those interfaces.

`usecases` and `adapters` both import `domain`, never each other; the functions' handlers
wire them together. Tests hold the direction (tests/checks/test_import_contract.py).
"""
