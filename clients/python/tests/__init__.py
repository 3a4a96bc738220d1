"""Tests of wsloop_client."""
