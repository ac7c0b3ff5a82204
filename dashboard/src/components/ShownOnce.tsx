import { useState, type ReactNode } from 'react'
import { copyToClipboard } from '../lib/apiKeys'

/** A credential the server shows once (an API key, a webhook's signing secret): the value,
 * a Copy button (and what to do when the browser refuses), and the button that closes it for
 * good. `what` names it in sentences ("key", "secret"). */
export function ShownOnce({
  id,
  title,
  intro,
  label,
  value,
  what,
  onDone,
  children,
}: {
  id: string
  title: ReactNode
  intro: ReactNode
  label: string
  value: string
  what: string
  onDone: () => void
  children?: ReactNode
}) {
  const [copied, setCopied] = useState<boolean | null>(null)
  return (
    <section className="card new-key" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="wrap-anywhere">
        {title}
      </h2>
      <p>{intro}</p>
      <div className="new-key-value">
        <label className="visually-hidden" htmlFor={id}>
          {label}
        </label>
        <input id={id} type="text" readOnly value={value} spellCheck={false} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" className="button button-primary" onClick={() => void copyToClipboard(value).then(setCopied)}>
          Copy
        </button>
      </div>
      {copied === true && <p role="status">Copied to the clipboard.</p>}
      {copied === false && <p role="status">The browser did not allow copying: select the {what} and copy it yourself.</p>}
      {children}
      <button type="button" className="button" onClick={onDone}>
        I have copied it
      </button>
    </section>
  )
}
