import { describe, expect, it } from 'vitest'
import { peopleLabel, personLabel } from './people'

const user = { ownerId: '9b1d2c3e-0000-4000-8000-00000000a11c', operator: false }
const operator = { ownerId: '00000000-0000-0000-0000-000000000000', operator: true }

describe('people', () => {
  it('names an identity as the viewer sees it', () => {
    expect(personLabel(`user:${user.ownerId}`, user)).toBe('you')
    expect(personLabel(`user:${user.ownerId}`, operator)).toBe('the owner')
    expect(personLabel('operator', operator)).toBe('you')
    expect(personLabel('operator', user)).toBe('the operator')
    expect(personLabel('platform', user)).toBe('the platform')
    expect(personLabel('user:someone-else', null)).toBe('the owner')
    expect(personLabel('sip_+15550100', operator)).toBe('sip_+15550100')
  })

  it('names the people in a room once each, never by their raw user id', () => {
    const humans = [`user:${user.ownerId}`, 'operator', `user:${user.ownerId}`]
    expect(peopleLabel(humans, operator)).toBe('the owner, you')
    expect(peopleLabel(humans, operator)).not.toContain('user:')
    expect(peopleLabel([], operator)).toBe('')
  })
})
