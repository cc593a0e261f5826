"""Revisions of the trial-record schema, oldest first."""
