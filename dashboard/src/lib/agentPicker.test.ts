import { describe, expect, it } from 'vitest'
import { agentLabel, agentSearchPath, moveActive, sessionAgentName } from './agentPicker'

describe('agent picker', () => {
  it('searches every agent, archived ones too, twenty at a time', () => {
    expect(agentSearchPath('  clar ')).toBe('/api/agents?q=clar&include_archived=true&limit=20')
    expect(agentSearchPath('')).toBe('/api/agents?include_archived=true&limit=20')
    expect(agentSearchPath('a&b')).toBe('/api/agents?q=a%26b&include_archived=true&limit=20')
  })

  it('moves the highlight with the arrows, wrapping at both ends', () => {
    expect(moveActive(-1, 3, 1)).toBe(0)
    expect(moveActive(-1, 3, -1)).toBe(2)
    expect(moveActive(2, 3, 1)).toBe(0)
    expect(moveActive(0, 3, -1)).toBe(2)
    expect(moveActive(1, 3, 1)).toBe(2)
    expect(moveActive(5, 2, 1)).toBe(0) // the options shrank under the highlight
    expect(moveActive(0, 0, 1)).toBe(-1)
  })

  it('labels archived agents', () => {
    expect(agentLabel({ name: 'Clarence', status: 'active' })).toBe('Clarence')
    expect(agentLabel({ name: 'Clarence', status: 'archived' })).toBe('Clarence (archived)')
  })

  it('names the agent of a call from the name the API sent', () => {
    expect(sessionAgentName({ agent_name: 'Clarence', kind: 'test' }, 'Agent')).toBe('Clarence')
    expect(sessionAgentName({ agent_name: 'Clarence', kind: 'creation' }, 'Agent')).toBe('Clarence')
    expect(sessionAgentName({ agent_name: null, kind: 'creation' }, 'Agent')).toBe('Voxie')
    expect(sessionAgentName({ agent_name: null, kind: 'live' }, 'the agent')).toBe('the agent')
  })
})
