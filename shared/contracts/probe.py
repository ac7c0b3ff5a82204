"""The doctor's worker probe: which workers are registered under an agent name, and whose they are.

Writer of the room: `voxiectl doctor`, which creates a room `platform-probe-{suffix}`
(`shared.naming.probe_room_name`) with one dispatch to the agent name it checks
(`voxie-{env}` or `spawner-{env}`) and empty metadata, and deletes it afterwards.

Writers of the answers: every worker offered the job (`shared.worker.answer_probe`). A worker
appends its answer to the room's metadata, then refuses the job with `terminate=False`, so
LiveKit offers it to the next worker registered under that name; the server asks one worker at
a time and waits for each answer, so the appends never race. When every worker has answered,
the job ends unassigned. Nothing joins the room, nothing touches the database.

Reader: the doctor, through `ListRooms`. Two answers naming different deployments are the seeds'
staging outage: two deployments registered one agent name, and LiveKit load-balances each
deployment's jobs across both. Example metadata after two workers answered:

    {"answers": [
      {"worker_id": "AW_x3Lr9", "agent_name": "spawner-staging", "role": "spawner",
       "deployment": "staging", "host": "web-1", "pid": 4121},
      {"worker_id": "AW_q0Zt2", "agent_name": "spawner-staging", "role": "spawner",
       "deployment": "qa", "host": "qa-box", "pid": 77}
    ]}
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.naming import WorkerRole

# LiveKit keeps room metadata small; past this many answers a worker stops appending (the
# doctor still reports the crowd it sees).
MAX_ANSWERS = 64


class ProbeAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    worker_id: str = Field(max_length=128)
    agent_name: str = Field(max_length=128)
    role: WorkerRole
    deployment: str = Field(max_length=128)
    host: str = Field(max_length=255)
    pid: int


class ProbeAnswers(BaseModel):
    model_config = ConfigDict(extra="ignore")

    answers: list[ProbeAnswer] = Field(default_factory=list)

    @classmethod
    def parse(cls, metadata: str) -> ProbeAnswers:
        """The answers in a probe room's metadata; empty or unreadable metadata has none."""
        if not metadata:
            return cls()
        try:
            return cls.model_validate_json(metadata)
        except ValidationError:
            return cls()

    def with_answer(self, answer: ProbeAnswer) -> ProbeAnswers:
        if len(self.answers) >= MAX_ANSWERS:
            return self
        return ProbeAnswers(answers=[*self.answers, answer])

    def text(self) -> str:
        return self.model_dump_json()

    @property
    def deployments(self) -> list[str]:
        """The distinct deployments that answered, in order of first answer."""
        return list(dict.fromkeys(a.deployment for a in self.answers))
