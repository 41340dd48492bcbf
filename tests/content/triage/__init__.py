"""Tests of the "is this normal?" triage engine, its data files and its command."""
