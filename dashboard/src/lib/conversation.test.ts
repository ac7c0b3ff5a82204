import { describe, expect, it } from 'vitest'
import { toConversation } from './conversation'

describe('recorded transcript as a conversation', () => {
  it('pairs a tool call with its output and skips system messages', () => {
    const items = [
      { type: 'message', role: 'system', content: ['You are Clarence'] },
      { type: 'message', role: 'assistant', content: ['Hi, this is Clarence.'] },
      { type: 'message', role: 'user', content: ['Book me at nine.'] },
      { type: 'function_call', call_id: 'c1', name: 'book', arguments: '{"start": "09:00"}' },
      { type: 'function_call_output', call_id: 'c1', name: 'book', output: 'booked', is_error: false },
      { type: 'message', role: 'assistant', content: ['Done.'], interrupted: true },
    ]
    expect(toConversation(items)).toEqual([
      { kind: 'message', role: 'assistant', text: 'Hi, this is Clarence.', interrupted: false },
      { kind: 'message', role: 'user', text: 'Book me at nine.', interrupted: false },
      { kind: 'tool', name: 'book', arguments: '{"start": "09:00"}', output: 'booked', isError: false },
      { kind: 'message', role: 'assistant', text: 'Done.', interrupted: true },
    ])
  })
})
