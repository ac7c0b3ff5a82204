import { describe, expect, it } from 'vitest'
import { ApiError } from './problem'
import {
  bindingLine,
  createConflict,
  describeSecretsError,
  emptyFields,
  hasSecretHeaders,
  missingSecretWarning,
  nameHosts,
  parseHosts,
  secretBindings,
  secretChoices,
  switchRefusal,
  withSecret,
} from './secrets'
import type { HttpToolSpec, Secret, ToolSpec } from './types'

function http(name: string, headers: HttpToolSpec['headers'], url = 'https://api.clinic.example/bookings'): HttpToolSpec {
  return { type: 'http', name, description: 'd', parameters: { type: 'object', properties: {} }, method: 'POST', url, headers, timeout_s: 10 }
}

function secret(name: string, hosts: string[], source: Secret['source'] = 'stored'): Secret {
  return { name, hosts, created_at: '2026-12-01T10:00:00Z', last_used_at: null, source }
}

const CLINIC = secret('CLINIC_API_TOKEN', ['api.clinic.example', '*.clinic.example'])

describe('the hosts textarea', () => {
  it('takes one host per line, dropping blanks and surrounding spaces', () => {
    expect(parseHosts('api.clinic.example\n\n  *.clinic.example  \n')).toEqual(['api.clinic.example', '*.clinic.example'])
  })

  it('also splits on commas and spaces, and keeps each host once', () => {
    expect(parseHosts('a.example, b.example c.example\r\na.example')).toEqual(['a.example', 'b.example', 'c.example'])
  })

  it('leaves the spelling to the server', () => {
    expect(parseHosts('API.Clinic.Example')).toEqual(['API.Clinic.Example'])
    expect(parseHosts('   \n ,')).toEqual([])
  })
})

describe("the server's reasons about hosts", () => {
  it('name each host by what was typed, not its place in the list', () => {
    expect(nameHosts('0: Not a host name; 2: Too long', ['Bad', 'ok.example', 'x'.repeat(300)])).toBe(
      `Bad: Not a host name; ${'x'.repeat(300)}: Too long`,
    )
    expect(nameHosts("1: 'Bad Host' is not a host name or '*.suffix' (e.g. api.clinic.example, *.clinic.example)", ['ok.example', 'Bad Host'])).toBe(
      "'Bad Host' is not a host name or '*.suffix' (e.g. api.clinic.example, *.clinic.example)",
    )
    expect(nameHosts('7: Nope', ['a'])).toBe('Host 8: Nope')
    expect(nameHosts('List should have at most 20 items', ['a'])).toBe('List should have at most 20 items')
  })
})

describe('the create form before it is sent', () => {
  it('names only the empty fields', () => {
    expect(emptyFields({ name: ' ', value: '', hosts: [] })).toEqual({
      name: 'Enter a name for the secret.',
      value: 'Enter the secret value.',
      hosts: 'Enter at least one host the secret may be sent to.',
    })
    expect(emptyFields({ name: 'lower case is for the server to refuse', value: ' ', hosts: ['x'] })).toEqual({})
  })
})

describe("an agent's secret headers", () => {
  const tools: ToolSpec[] = [
    { type: 'builtin', name: 'end_call' },
    http('book', { Authorization: { secret: 'CLINIC_API_TOKEN' }, 'X-Plain': 'yes', 'X-Key': { secret: 'GONE' } }),
    http('lookup', { Accept: 'application/json' }),
  ]

  it('lists each secret header with its hosts, or none when the secret does not exist', () => {
    expect(secretBindings(tools, [CLINIC])).toEqual([
      { tool: 'book', header: 'Authorization', secret: 'CLINIC_API_TOKEN', hosts: ['api.clinic.example', '*.clinic.example'], source: 'stored' },
      { tool: 'book', header: 'X-Key', secret: 'GONE', hosts: null, source: null },
    ])
  })

  it('says so only when some tool sends a secret', () => {
    expect(hasSecretHeaders(tools)).toBe(true)
    expect(hasSecretHeaders([tools[0], tools[2]])).toBe(false)
    expect(hasSecretHeaders(undefined)).toBe(false)
    expect(secretBindings('not a list', [CLINIC])).toEqual([])
  })

  it('reads as one line per header', () => {
    const [bound, missing] = secretBindings(tools, [CLINIC])
    expect(bindingLine(bound!)).toBe('Authorization ← secret CLINIC_API_TOKEN (api.clinic.example, *.clinic.example)')
    expect(bindingLine(missing!)).toBe('X-Key ← secret GONE')
    expect(missingSecretWarning('GONE')).toBe('Secret GONE does not exist: the tool will fail until it is created.')
  })

  it("names the server's environment as a secret's source", () => {
    const [bound] = secretBindings(tools, [secret('CLINIC_API_TOKEN', ['api.clinic.example'], 'environment')])
    expect(bindingLine(bound!)).toBe("Authorization ← secret CLINIC_API_TOKEN (api.clinic.example), from the server's environment")
  })
})

describe('switching the secret a header sends', () => {
  const tools: ToolSpec[] = [http('book', { Authorization: { secret: 'OLD' }, 'X-Plain': 'yes' }), http('other', { Authorization: { secret: 'OLD' } })]

  it('changes that one header of that one tool, in a new list', () => {
    const changed = withSecret(tools, 'book', 'Authorization', 'NEW')
    expect(changed[0]).toEqual({ ...tools[0], headers: { Authorization: { secret: 'NEW' }, 'X-Plain': 'yes' } })
    expect(changed[1]).toBe(tools[1])
    expect(tools[0]).toEqual(http('book', { Authorization: { secret: 'OLD' }, 'X-Plain': 'yes' }))
  })

  it('adds no header the tool does not have', () => {
    expect(withSecret(tools, 'book', 'X-Other', 'NEW')).toEqual(tools)
  })

  it("says the server's refusal without the field path", () => {
    expect(switchRefusal("tools.0.headers.Authorization: secret CRM_KEY may not be sent to api.clinic.example")).toBe(
      'Not saved: secret CRM_KEY may not be sent to api.clinic.example.',
    )
    expect(switchRefusal("tool 'book' header 'Authorization': secret X is not bound to api.clinic.example.")).toBe(
      "Not saved: tool 'book' header 'Authorization': secret X is not bound to api.clinic.example.",
    )
    expect(switchRefusal('')).toBe('Not saved: the server did not accept this secret for this action.')
  })

  it("offers the owner's secrets, and the saved one even when it does not exist", () => {
    expect(secretChoices([CLINIC], 'CLINIC_API_TOKEN')).toEqual(['CLINIC_API_TOKEN'])
    expect(secretChoices([CLINIC], 'GONE')).toEqual(['GONE', 'CLINIC_API_TOKEN'])
  })
})

describe('failures of the secrets API', () => {
  it('puts a 409 about the name beside the name, and any other for the whole form', () => {
    expect(createConflict('you already have a secret named CLINIC', 'CLINIC')).toEqual({ field: 'name', message: 'You already have a secret named CLINIC.' })
    expect(createConflict("OPS is one of the operator's TOOL_SECRETS: choose another name", 'OPS')).toEqual({
      field: 'name',
      message: "OPS is one of the operator's TOOL_SECRETS: choose another name.",
    })
    expect(createConflict('an owner has at most 100 secrets: delete one you no longer use', 'NEW')).toEqual({
      field: null,
      message: 'An owner has at most 100 secrets: delete one you no longer use.',
    })
    expect(createConflict('', 'NEW')).toEqual({ field: 'name', message: 'You already have a secret named NEW.' })
  })

  it("says a 503 of an unconfigured server in the server's words", () => {
    const error = new ApiError(503, { type: 'urn:voxie:problem:secrets-not-configured', detail: 'tool secrets are not configured on this server: set SECRETS_KEY' })
    expect(describeSecretsError(error)).toEqual({
      message: 'Tool secrets are not configured on this server: set SECRETS_KEY.',
      retryAfterS: null,
      action: null,
    })
  })

  it('keeps the usual sentences for everything else', () => {
    const down = new ApiError(503, { type: 'urn:voxie:problem:store-unavailable', detail: 'store down' }, 5)
    expect(describeSecretsError(down).message).toMatch(/database is unavailable/)
    expect(describeSecretsError(new ApiError(404, { detail: 'no secret named X' })).message).toBe('No secret named X')
  })
})
