"""Database lifecycle: applying the migrations, and the local embedded Postgres for development."""
