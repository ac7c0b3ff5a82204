-- Per-agent run options the spawner reads: the voice pipeline (one realtime speech model, or
-- STT → LLM → TTS) and whether each call gets a short summary from a cheap text model.

alter table public.agents
  add column pipeline text not null default 'realtime'
    check (pipeline in ('realtime', 'stt-llm-tts')),
  add column summarize boolean not null default false;
