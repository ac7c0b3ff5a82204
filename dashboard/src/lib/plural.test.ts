import { describe, expect, it } from 'vitest'
import { plural } from './plural'

describe('plural', () => {
  it('uses the singular for exactly one and the plural otherwise, zero included', () => {
    expect(plural(1, 'agent')).toBe('1 agent')
    expect(plural(0, 'agent')).toBe('0 agents')
    expect(plural(2, 'Voxie room')).toBe('2 Voxie rooms')
  })

  it('takes an irregular plural', () => {
    expect(plural(1, 'person', 'people')).toBe('1 person')
    expect(plural(3, 'person', 'people')).toBe('3 people')
  })
})
