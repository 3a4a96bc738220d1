// Package pytest runs the Python client's tests (clients/python/tests) against a wsloop built from this repository.
package pytest
