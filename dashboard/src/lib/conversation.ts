/**
 * A recorded call's transcript (`GET /api/sessions/{id}` → `transcript`: LiveKit
 * `ChatContext.to_dict()` items) as a conversation:
 *
 *     {"type": "message", "role": "assistant", "content": ["Hi, this is Clarence."]}
 *     {"type": "function_call", "call_id": "c1", "name": "book", "arguments": "{\"start\": …}"}
 *     {"type": "function_call_output", "call_id": "c1", "name": "book", "output": "…", "is_error": false}
 *
 * A tool call and its output become one entry.
 */

export type ConversationEntry =
  | { kind: 'message'; role: 'user' | 'assistant' | 'system'; text: string; interrupted: boolean }
  | { kind: 'tool'; name: string; arguments: string; output: string | null; isError: boolean }

function str(value: unknown): string {
  return typeof value === 'string' ? value : value == null ? '' : JSON.stringify(value)
}

/** A message item's `content` as text (strings and text parts, joined). */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .map((part) => (typeof part === 'string' ? part : typeof part?.text === 'string' ? part.text : ''))
    .filter(Boolean)
    .join(' ')
}

export function toConversation(items: readonly Record<string, unknown>[]): ConversationEntry[] {
  const entries: ConversationEntry[] = []
  const toolsByCall = new Map<string, Extract<ConversationEntry, { kind: 'tool' }>>()
  for (const item of items) {
    if (item.type === 'message') {
      const role = item.role === 'user' || item.role === 'system' ? item.role : item.role === 'developer' ? 'system' : 'assistant'
      if (role === 'system') continue // the agent's instructions, not part of the call
      const text = messageText(item.content)
      if (text.trim()) entries.push({ kind: 'message', role, text, interrupted: item.interrupted === true })
    } else if (item.type === 'function_call') {
      const entry = { kind: 'tool' as const, name: str(item.name), arguments: str(item.arguments), output: null, isError: false }
      toolsByCall.set(str(item.call_id), entry)
      entries.push(entry)
    } else if (item.type === 'function_call_output') {
      const call = toolsByCall.get(str(item.call_id))
      if (call) {
        call.output = str(item.output)
        call.isError = item.is_error === true
      } else {
        entries.push({ kind: 'tool', name: str(item.name), arguments: '', output: str(item.output), isError: item.is_error === true })
      }
    }
  }
  return entries
}
