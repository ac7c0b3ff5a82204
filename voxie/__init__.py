"""Voxie: the LiveKit Agents worker that builds agents by conversation (voxie-creation-* rooms)."""
