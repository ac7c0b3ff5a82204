/**
 * API keys as the Developers page shows them (issue 24): an owner's servers call the API with
 * `Authorization: Bearer vx_live_…` and act as the owner. `POST /api/keys {"name": "crm-sync"}`
 * answers with the key once:
 *
 *     {"id": "5f0c…", "name": "crm-sync", "prefix": "vx_live_7Gq2", "created_at": "…",
 *      "last_used_at": null, "key": "vx_live_7Gq2vN0cXw3kPz8RfT1yLb5mHd9sJa4eUo6iQx2Cn0V"}
 *
 * and `GET /api/keys` lists the same without `key`. The server's rules (name, at most 20 keys,
 * only a signed-in user manages keys) are the server's: the page shows its sentences.
 */

import { describeInServerWords, type Failure } from './describe'
import { formatRelative } from './format'
import type { ApiKey } from './types'

/** The create form's one field, as the API's 422 details name it. */
export const KEY_FIELDS = ['name'] as const

/** The list's stand-in for a key: its prefix and an ellipsis (the rest is never known here). */
export function keyLabel(key: Pick<ApiKey, 'prefix'>): string {
  return `${key.prefix}…`
}

/** "never", or how long ago the key was last used ("5 min ago"; the server updates it at most
 * once a minute, so "just now" covers the last minute). */
export function lastUsed(key: Pick<ApiKey, 'last_used_at'>, now: Date = new Date()): string {
  return key.last_used_at ? formatRelative(key.last_used_at, now) : 'never'
}

/** The create form's obvious omission (none: send it). */
export function nameMissing(name: string): string | null {
  return name.trim() ? null : 'Enter a name that says what the key is for, such as crm-sync.'
}

/** A first request to try the new key with, against this dashboard's own API. */
export function curlExample(key: string, origin: string): string {
  return `curl -H "Authorization: Bearer ${key}" ${origin.replace(/\/$/, '')}/api/agents`
}

/** A failure of the keys API as a sentence: the server's own words for a 403 (an API key, or
 * the operator, may not do this), a 409 (at most 20 keys) and an unconfigured server's 503. */
export function describeKeysError(error: unknown): Failure {
  return describeInServerWords(error, [403, 409, 503])
}

/** Copies `text` to the clipboard; false when the browser refuses (no permission, not a secure
 * context), so the page can ask for a manual copy instead. */
export async function copyToClipboard(
  text: string,
  clipboard: Pick<Clipboard, 'writeText'> | null = globalThis.navigator?.clipboard ?? null,
): Promise<boolean> {
  if (!clipboard) return false
  try {
    await clipboard.writeText(text)
    return true
  } catch {
    return false
  }
}
