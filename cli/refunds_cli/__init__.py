"""The `refunds` command line and the local cloud it can start."""
