import { describe, expect, it } from 'vitest'
import { splitFieldErrors } from './fieldErrors'

const FIELDS = ['name', 'slug', 'voice', 'language', 'tools']

describe('422 detail to field errors', () => {
  it('splits per field, keeping reasons that contain "; "', () => {
    const detail = "voice: unsupported voice 'bob'; choose one of: marin, cedar; language: String should match pattern '^[a-z]{2,3}(-[A-Z]{2})?$'"
    expect(splitFieldErrors(detail, FIELDS)).toEqual({
      fields: { voice: "Unsupported voice 'bob'; choose one of: marin, cedar", language: 'This is not in the expected format.' },
      general: [],
    })
  })

  it('keeps nested paths and unknown reasons', () => {
    expect(splitFieldErrors('an active agent needs instructions; tools.0.http.url: Input should be a valid URL', FIELDS)).toEqual({
      fields: { tools: '0.http.url: This is not a valid web address (https://…).' },
      general: ['an active agent needs instructions'],
    })
  })
})
