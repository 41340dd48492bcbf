"""The clinic's web dashboard: another face of the same use cases, served by Starlette."""
