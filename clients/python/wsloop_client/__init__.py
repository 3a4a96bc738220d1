"""Python client helpers for wsloop; see wsloop_client.fossil for deltas."""
