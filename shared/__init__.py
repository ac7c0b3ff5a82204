"""The one package every Voxie platform component uses.

`settings` (typed environment), `naming` (room, slug and worker agent names), `contracts`
(AgentConfig, DispatchMetadata, session records), `store` (the system of record over Supabase or
Postgres), `db` (migrations and the local embedded Postgres) and `logging` (structlog set-up).
"""
