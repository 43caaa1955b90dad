"""Shared API plumbing: errors, pagination, rate limits."""
