import { ParticipantKind } from 'livekit-client'
import { describe, expect, it } from 'vitest'
import table from '../../../tests/support/participants.json'
import { isAgent, isHuman } from './participants'

interface Row {
  kind: keyof typeof ParticipantKind
  agent: boolean
  recorder: boolean
  human: boolean
  is_agent: boolean
}

describe('who is human and who is an agent', () => {
  it.each(table.participants as Row[])('$kind agent=$agent recorder=$recorder', (row) => {
    const participant = { kind: ParticipantKind[row.kind], permissions: { agent: row.agent, recorder: row.recorder } }
    expect([isHuman(participant), isAgent(participant)]).toEqual([row.human, row.is_agent])
  })
})
