import type { LiveStatus } from '../sse'
import type { ShownError } from '../store'

/** A dot while live updates flow; words when they do not. */
export function LiveIndicator({ status }: { status: LiveStatus }) {
  const text = { open: 'Live', connecting: 'Connecting…', down: 'Live updates down, reconnecting…' }[status.state]
  const title = status.state === 'down' ? `${status.reason}; next try in ${Math.ceil(status.retryInMs / 1000)} s` : undefined
  return (
    <span class={`live live-${status.state}`} data-live={status.state} role="status" title={title}>
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  )
}

/** Every failed request, in words, until dismissed. */
export function Errors({ errors, onDismiss }: { errors: ShownError[]; onDismiss(id: number): void }) {
  return (
    <div class="errors" role="alert">
      {errors.map((error) => (
        <p key={error.id} class="error">
          <span>{error.text}</span>
          <button type="button" aria-label="Dismiss this error" onClick={() => onDismiss(error.id)}>
            ×
          </button>
        </p>
      ))}
    </div>
  )
}
