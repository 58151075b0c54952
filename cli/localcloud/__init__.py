"""The embedded default: the whole stack from template.yaml running on moto in server mode."""
