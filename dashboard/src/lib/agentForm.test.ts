import { describe, expect, it } from 'vitest'
import {
  agentBody,
  createConflict,
  emptyAction,
  emptyHeader,
  emptyInput,
  hasErrors,
  headersObject,
  localProblems,
  parametersSchema,
  serverErrors,
  type ActionForm,
  type AgentForm,
} from './agentForm'

function action(overrides: Partial<ActionForm> = {}): ActionForm {
  return {
    ...emptyAction(),
    name: 'book_cleaning',
    description: 'Book a cleaning once the caller confirmed the time.',
    url: 'https://api.clinic.example/bookings',
    inputs: [{ name: 'start', type: 'string', description: 'date and time', required: true }],
    headers: [
      { ...emptyHeader(), name: 'Authorization', source: 'secret', secret: 'CLINIC_API_TOKEN' },
      { ...emptyHeader(), name: 'Accept', value: 'application/json' },
    ],
    ...overrides,
  }
}

function form(overrides: Partial<AgentForm> = {}): AgentForm {
  return {
    name: 'Clarence Dental',
    slug: 'clarence-dental',
    greeting: 'Hello!',
    instructions: 'You book cleanings.',
    voice: 'cedar',
    model: 'gpt-realtime',
    pipeline: 'realtime',
    activate: false,
    actions: [action()],
    ...overrides,
  }
}

describe('the form as the API body', () => {
  it('builds the parameters schema as Voxie does, skipping empty rows', () => {
    const inputs = [
      { name: ' start ', type: 'string' as const, description: 'date and time', required: true },
      emptyInput(),
      { name: 'seats', type: 'integer' as const, description: '', required: false },
    ]
    expect(parametersSchema(inputs)).toEqual({
      type: 'object',
      properties: { start: { type: 'string', description: 'date and time' }, seats: { type: 'integer', description: '' } },
      required: ['start'],
    })
    expect(parametersSchema([])).toEqual({ type: 'object', properties: {}, required: [] })
  })

  it('sends text headers as text and secret headers by name', () => {
    expect(headersObject(action().headers)).toEqual({ Authorization: { secret: 'CLINIC_API_TOKEN' }, Accept: 'application/json' })
    expect(headersObject([emptyHeader(), { ...emptyHeader(), source: 'secret' }])).toEqual({})
  })

  it('makes the create body: a draft unless activated, every action in order', () => {
    const body = agentBody(form({ name: ' Clarence Dental ', actions: [action(), emptyAction()] }))
    expect(body).toMatchObject({ slug: 'clarence-dental', name: 'Clarence Dental', status: 'draft', voice: 'cedar', pipeline: 'realtime' })
    expect(body.tools).toHaveLength(2)
    expect(body.tools?.[0]).toEqual({
      type: 'http',
      name: 'book_cleaning',
      description: 'Book a cleaning once the caller confirmed the time.',
      method: 'POST',
      url: 'https://api.clinic.example/bookings',
      parameters: { type: 'object', properties: { start: { type: 'string', description: 'date and time' } }, required: ['start'] },
      headers: { Authorization: { secret: 'CLINIC_API_TOKEN' }, Accept: 'application/json' },
    })
    expect(agentBody(form({ activate: true })).status).toBe('active')
    const defaults = agentBody(form({ voice: '', model: '' }))
    expect('voice' in defaults || 'model' in defaults).toBe(false)
  })
})

describe('what the form says before sending', () => {
  it('finds nothing in a complete form', () => {
    expect(hasErrors(localProblems(form()))).toBe(false)
  })

  it('names the omissions the server would not point at', () => {
    const errors = localProblems(
      form({
        name: ' ',
        slug: '',
        actions: [
          action({
            inputs: [
              { ...emptyInput(), description: 'who calls' },
              { ...emptyInput(), name: 'day' },
              { ...emptyInput(), name: 'day' },
            ],
            headers: [
              { ...emptyHeader(), value: 'x' },
              { ...emptyHeader(), name: 'Authorization', source: 'secret' },
              { ...emptyHeader(), name: 'accept', value: 'a' },
              { ...emptyHeader(), name: 'Accept', value: 'b' },
            ],
          }),
        ],
      }),
    )
    expect(errors.fields).toEqual({ name: 'Enter a name for the agent.', slug: 'Enter a slug: lowercase letters, digits and hyphens.' })
    expect(errors.actions[0]?.inputs).toEqual({ 0: 'Name this input.', 2: 'Another input is named day.' })
    expect(errors.actions[0]?.headers).toEqual({ 0: 'Name this header.', 1: 'Choose the secret this header sends.', 3: 'Another header is named Accept.' })
  })
})

describe('the server’s 422 beside the fields', () => {
  const two = form({ actions: [action(), action({ name: 'cancel', headers: [] })] })

  it('puts a refused destination beside its action’s URL', () => {
    const detail =
      "tools: tool 'cancel': the host '127.0.0.1' is an internal address (127.0.0.1); tools may only call public internet addresses"
    const errors = serverErrors(detail, two)
    expect(errors.actions[1]?.fields.url).toBe("The host '127.0.0.1' is an internal address (127.0.0.1); tools may only call public internet addresses")
    expect(errors.actions[0]).toBeUndefined()
    expect(errors.general).toEqual([])
  })

  it('puts each refused secret beside its header', () => {
    const detail =
      "tools: tool 'book_cleaning', header 'Authorization': the secret 'CRM_KEY' may only be sent to crm.example, not to 'api.clinic.example'; tool 'book_cleaning', header 'X-Other': there is no secret 'NOPE' among the agent owner's secrets"
    const errors = serverErrors(detail, two)
    expect(errors.actions[0]?.headers).toEqual({ 0: "The secret 'CRM_KEY' may only be sent to crm.example, not to 'api.clinic.example'" })
    // A header the form does not have (renamed meanwhile) is still said, under the headers.
    expect(errors.actions[0]?.fields.headers).toBe("X-Other: There is no secret 'NOPE' among the agent owner's secrets")
  })

  it('reads the contract’s paths, the union’s tag skipped', () => {
    const detail =
      "name: String should have at least 1 character; tools.1.http.url: Input should be a valid URL, relative URL without a base; tools.0.http.name: String should match pattern '^[a-z][a-z0-9_]{0,63}$'; tools.0.http.headers.Accept: String should have at most 1024 characters; tools.0.http.timeout_s: Input should be greater than 0"
    const errors = serverErrors(detail, two)
    expect(errors.fields.name).toBe('String should have at least 1 character')
    expect(errors.actions[1]?.fields.url).toBe('This is not a valid web address (https://…).')
    expect(errors.actions[0]?.fields.name).toBe('This is not in the expected format.')
    expect(errors.actions[0]?.headers[1]).toBe('String should have at most 1024 characters')
    expect(errors.actions[0]?.general).toEqual(['timeout_s: Input should be greater than 0'])
  })

  it('says the active-needs-instructions rule beside the instructions, the rest in general', () => {
    const errors = serverErrors("an active agent needs instructions; tools: tool names must be unique: book_cleaning repeated; owner_id: nope", two)
    expect(errors.fields.instructions).toMatch(/needs instructions/)
    expect(errors.general).toEqual(['Actions: Tool names must be unique: book_cleaning repeated', 'owner_id: Nope'])
  })

  it('puts a taken slug beside the slug', () => {
    expect(createConflict("the slug 'clarence-dental' is taken by another of your agents").fields.slug).toBe(
      "The slug 'clarence-dental' is taken by another of your agents. Choose another.",
    )
    expect(createConflict('something else').general).toEqual(['Something else.'])
  })
})
