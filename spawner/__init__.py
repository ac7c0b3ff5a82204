"""Spawner: the LiveKit Agents worker that runs user-created agents (`agent-{agent_id}-*` rooms)."""
