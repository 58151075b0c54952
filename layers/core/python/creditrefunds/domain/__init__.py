"""The rules of DOMAIN.md and their models: pure functions over plain data, dates passed in."""
