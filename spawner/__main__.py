"""`python -m spawner start|dev|console`: the LiveKit Agents CLI around the spawner worker."""

from shared.naming import WorkerRole
from shared.worker import run
from spawner.worker import build_server

if __name__ == "__main__":
    run(WorkerRole.SPAWNER, build_server)
