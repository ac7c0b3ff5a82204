import { useId, useState, type KeyboardEvent } from 'react'
import { api } from '../lib/api'
import { agentLabel, agentSearchPath, moveActive, SEARCH_DELAY_MS, SEARCH_MAX_LENGTH } from '../lib/agentPicker'
import type { Agent, AgentListItem, Paged } from '../lib/types'
import { useLoad } from './useApi'
import { useDebounced } from './useDebounced'

/** A search-as-you-type choice of one agent (WAI-ARIA combobox with a listbox): type to search,
 * arrows to move, Enter to choose, Escape to close; "All agents" clears the choice. */
export function AgentPicker({ id, agentId, onChange }: { id: string; agentId: string; onChange: (agentId: string) => void }) {
  const listId = useId()
  // The chosen agent's name, from the API: the page may open on `?agent=<id>` from a link.
  const chosen = useLoad((signal) => (agentId ? api.get<Agent>(`/api/agents/${encodeURIComponent(agentId)}`, signal) : Promise.resolve(null)), [agentId])
  // The agent just picked here, named at once (before its GET answers).
  const [picked, setPicked] = useState<Agent | null>(null)
  const chosenName = picked?.id === agentId ? picked.name : chosen.data?.id === agentId ? chosen.data.name : ''
  // What is being typed; null when not editing: the box then shows the chosen agent's name.
  const [draft, setDraft] = useState<string | null>(null)
  const text = draft ?? chosenName
  const [open, setOpen] = useState(false)
  const [active, setActive] = useState(-1)
  const searched = useDebounced(open ? text.trim() : null, SEARCH_DELAY_MS)
  // A new search aborts the one before it (useLoad); the answer says which search it answers.
  const found = useLoad(
    async (signal) => (searched === null ? null : { text: searched, page: await api.get<Paged<AgentListItem>>(agentSearchPath(searched), signal) }),
    [searched],
  )
  const options = open && found.data ? found.data.page.items : []
  const settled = open && found.data !== null && found.data.text === text.trim() && !found.loading

  const close = () => {
    setOpen(false)
    setActive(-1)
    setDraft(null)
  }
  const choose = (agent: Agent | null) => {
    close()
    setPicked(agent)
    onChange(agent?.id ?? '')
  }
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault()
      if (!open) setOpen(true)
      else setActive(moveActive(active, options.length, event.key === 'ArrowDown' ? 1 : -1))
    } else if (event.key === 'Enter') {
      const option = options[active]
      if (open && option) {
        event.preventDefault()
        choose(option)
      } else if (!text.trim()) {
        choose(null)
      }
    } else if (event.key === 'Escape' && open) {
      event.preventDefault()
      close()
    }
  }
  const optionId = (index: number) => `${listId}-option-${index}`
  return (
    <div className="picker">
      <div className="picker-row">
        <input
          id={id}
          type="text"
          role="combobox"
          autoComplete="off"
          placeholder={agentId && chosen.failure ? 'An agent you cannot see' : 'All agents — type to search'}
          maxLength={SEARCH_MAX_LENGTH}
          aria-autocomplete="list"
          aria-expanded={open}
          aria-controls={listId}
          aria-activedescendant={open && active >= 0 && active < options.length ? optionId(active) : undefined}
          value={text}
          onChange={(event) => {
            setDraft(event.target.value)
            setOpen(true)
            setActive(-1)
          }}
          onKeyDown={onKeyDown}
          onBlur={close}
        />
        {agentId && (
          <button type="button" className="button button-small" onClick={() => choose(null)}>
            All agents
          </button>
        )}
      </div>
      <ul id={listId} role="listbox" aria-label="Matches" className="picker-list" hidden={!open}>
        {options.map((agent, index) => (
          <li
            key={agent.id}
            id={optionId(index)}
            role="option"
            aria-selected={index === active}
            // Chosen on mouse down, before the box's blur closes the list.
            onMouseDown={(event) => {
              event.preventDefault()
              choose(agent)
            }}
          >
            {agentLabel(agent)} <span className="muted">{agent.slug}</span>
          </li>
        ))}
      </ul>
      {settled && options.length === 0 && !found.failure && (
        <p className="picker-note muted" role="status">
          No agent matches “{text.trim()}”
        </p>
      )}
      {open && found.failure && (
        <p className="picker-note" role="alert">
          Could not search the agents: {found.failure.message}
        </p>
      )}
    </div>
  )
}
