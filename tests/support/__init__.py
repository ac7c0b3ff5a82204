"""Test support: real servers started by the tests and wire-faithful doubles for what cannot run here."""
