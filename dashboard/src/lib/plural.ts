/** A count with its noun in the right number: `1 agent`, `0 agents`, `2 people`. */
export function plural(count: number, singular: string, pluralForm: string = `${singular}s`): string {
  return `${count.toLocaleString()} ${count === 1 ? singular : pluralForm}`
}
