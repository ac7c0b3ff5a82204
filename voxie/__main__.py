"""`python -m voxie start|dev|console`: the Voxie worker under the LiveKit Agents CLI."""

from shared.naming import WorkerRole
from shared.worker import run
from voxie.worker import build_server

if __name__ == "__main__":
    run(WorkerRole.VOXIE, build_server)
