import { describe, expect, it } from 'vitest'
import { copyToClipboard, curlExample, describeKeysError, keyLabel, lastUsed, nameMissing } from './apiKeys'
import { ApiError } from './problem'

const NOW = new Date('2026-12-07T12:00:00Z')

describe('a key in the list', () => {
  it('is shown by its prefix, never more', () => {
    expect(keyLabel({ prefix: 'vx_live_7Gq2' })).toBe('vx_live_7Gq2…')
  })

  it('says when it was last used, or never', () => {
    expect(lastUsed({ last_used_at: null }, NOW)).toBe('never')
    expect(lastUsed({ last_used_at: '2026-12-07T11:59:30Z' }, NOW)).toBe('just now')
    expect(lastUsed({ last_used_at: '2026-12-07T11:55:00Z' }, NOW)).toBe('5 min ago')
    expect(lastUsed({ last_used_at: '2026-12-05T12:00:00Z' }, NOW)).toBe('2 days ago')
  })
})

describe('the create form', () => {
  it('asks for a name before sending', () => {
    expect(nameMissing('   ')).toBe('Enter a name that says what the key is for, such as crm-sync.')
    expect(nameMissing('crm-sync')).toBeNull()
  })

  it('offers a first request with the new key against this API', () => {
    expect(curlExample('vx_live_abc', 'https://voxie.example/')).toBe('curl -H "Authorization: Bearer vx_live_abc" https://voxie.example/api/agents')
  })
})

describe('the keys API failures', () => {
  it("say the server's own sentence for a refused caller, the cap and an unconfigured server", () => {
    const byKey = new ApiError(403, { detail: "an API key cannot list, create or revoke API keys: sign in (the dashboard's Developers page) to manage them" })
    expect(describeKeysError(byKey).message).toBe("An API key cannot list, create or revoke API keys: sign in (the dashboard's Developers page) to manage them.")
    const cap = new ApiError(409, { type: 'urn:voxie:problem:conflict', detail: 'an owner has at most 20 API keys: revoke one you no longer use' })
    expect(describeKeysError(cap)).toEqual({ message: 'An owner has at most 20 API keys: revoke one you no longer use.', retryAfterS: null, action: null })
    const off = new ApiError(503, { type: 'urn:voxie:problem:api-keys-not-configured', detail: 'API keys are not configured on this backend: the operator sets API_KEY_HASH_KEYS' }, 300)
    expect(describeKeysError(off).message).toContain('API_KEY_HASH_KEYS')
  })

  it('leave the usual sentences to the usual failures', () => {
    const down = new ApiError(503, { type: 'urn:voxie:problem:store-unavailable', detail: 'store down' }, 5)
    expect(describeKeysError(down)).toMatchObject({ action: 'retry', retryAfterS: 5 })
    expect(describeKeysError(new ApiError(401, { detail: 'expired' })).action).toBe('sign-in')
  })
})

describe('copying the new key', () => {
  it('writes it to the clipboard', async () => {
    const written: string[] = []
    expect(await copyToClipboard('vx_live_abc', { writeText: async (text: string) => void written.push(text) })).toBe(true)
    expect(written).toEqual(['vx_live_abc'])
  })

  it('reports a refusal (or no clipboard) instead of throwing', async () => {
    expect(await copyToClipboard('x', { writeText: () => Promise.reject(new Error('denied')) })).toBe(false)
    expect(await copyToClipboard('x', null)).toBe(false)
  })
})
