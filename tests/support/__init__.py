"""Test support: real servers the tests start, and wire-faithful doubles of what cannot run here."""
