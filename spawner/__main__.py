"""`python -m spawner start|dev|console`: the LiveKit Agents CLI around the spawner worker."""

from livekit.agents import cli

from spawner.worker import server

if __name__ == "__main__":
    cli.run_app(server)
