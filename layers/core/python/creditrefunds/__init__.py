"""Credit-balance rules (pure) and the AWS adapters the functions share."""
