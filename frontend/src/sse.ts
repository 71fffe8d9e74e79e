// The live event stream (`GET /api/stream/tasks`), read with fetch rather
// than EventSource so that
// - the token travels in the Authorization header, the same for a
//   dev sign-in and a pasted token (no token in URLs or logs, no cookie);
// - every reconnect, including ours after a failure, sends `Last-Event-ID`,
//   so the host replays what was missed (an EventSource made anew cannot);
// - reconnects back off exponentially (with jitter, from the server's
//   `retry:`, 1 s by default, up to 30 s), and a connection silent for three
//   heartbeats (45 s) is treated as dead and replaced.

import { errorOf, messageOf, type Fetch } from './api'

export interface SseEvent {
  type: string
  data: string
  /** The stream's last event id when this event was dispatched. */
  id: string
}

/** An incremental `text/event-stream` parser, after the WHATWG HTML rules. */
export class SseParser {
  lastEventId = ''
  /** The reconnection time the server asked for, in ms. */
  retry: number | null = null
  private buffer = ''
  private type = ''
  private data: string[] = []

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId
  }

  /** Feeds decoded text; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk
    const events: SseEvent[] = []
    for (;;) {
      const end = this.buffer.search(/[\r\n]/)
      // A trailing CR may be the first half of a CRLF: wait for more.
      if (end < 0 || (end === this.buffer.length - 1 && this.buffer[end] === '\r')) break
      const line = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(this.buffer.startsWith('\r\n', end) ? end + 2 : end + 1)
      const event = this.line(line)
      if (event !== null) events.push(event)
    }
    return events
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch()
    if (line.startsWith(':')) return null // a comment: the heartbeat
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1))
    if (field === 'event') this.type = value
    else if (field === 'data') this.data.push(value)
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value)
    return null
  }

  private dispatch(): SseEvent | null {
    const event = this.data.length > 0 ? { type: this.type || 'message', data: this.data.join('\n'), id: this.lastEventId } : null
    this.type = ''
    this.data = []
    return event
  }
}

/** The wait before reconnect number `attempt` (0 first): exponential, capped, jittered to 50–100 %. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt)
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}

export type LiveStatus =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'down'; reason: string; retryInMs: number }

export interface LiveStreamOptions {
  url: string
  token: string
  onEvent(event: SseEvent): void
  /** The stream is open; `resumed` when it continues after a known event id, so nothing was missed. */
  onOpen(resumed: boolean): void
  onStatus(status: LiveStatus): void
  /** The server refused the token: the stream has stopped. */
  onUnauthorized(): void
  fetch?: Fetch
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  random?: () => number
  silenceTimeoutMs?: number
}

const DEFAULT_RETRY_MS = 1000
const MAX_RETRY_MS = 30_000
const SILENCE_TIMEOUT_MS = 45_000

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done)
  })
}

type Outcome = { opened: boolean; reason: string } | 'unauthorized'

export class LiveStream {
  private readonly stopper = new AbortController()
  private lastEventId = ''
  private retryMs = DEFAULT_RETRY_MS

  constructor(private readonly options: LiveStreamOptions) {}

  start(): void {
    void this.run()
  }

  stop(): void {
    this.stopper.abort()
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted
  }

  private async run(): Promise<void> {
    const { onStatus, onUnauthorized, random } = this.options
    let failures = 0
    while (!this.stopped) {
      onStatus({ state: 'connecting' })
      const outcome = await this.connect()
      if (this.stopped) return
      if (outcome === 'unauthorized') {
        this.stop()
        onUnauthorized()
        return
      }
      // A stream that opened and later ended starts the count afresh.
      failures = outcome.opened ? 0 : failures + 1
      const retryInMs = backoffDelay(Math.max(0, failures - 1), this.retryMs, MAX_RETRY_MS, random)
      onStatus({ state: 'down', reason: outcome.reason, retryInMs })
      await (this.options.sleep ?? sleep)(retryInMs, this.stopper.signal)
    }
  }

  /** One connection, from request to end; never throws. */
  private async connect(): Promise<Outcome> {
    const abort = new AbortController()
    const stop = () => abort.abort()
    this.stopper.signal.addEventListener('abort', stop)
    const fetchFn = this.options.fetch ?? fetch
    const resumed = this.lastEventId !== ''
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${this.options.token}` }
    if (resumed) headers['last-event-id'] = this.lastEventId
    let opened = false
    try {
      const response = await fetchFn(this.options.url, { headers, signal: abort.signal, cache: 'no-store', credentials: 'omit' })
      if (response.status === 401) return 'unauthorized'
      if (!response.ok || response.body === null) return { opened, reason: (await errorOf(response)).message }
      opened = true
      this.options.onStatus({ state: 'open' })
      this.options.onOpen(resumed)
      return { opened, reason: await this.read(response.body, abort) }
    } catch (e) {
      return { opened, reason: messageOf(e) }
    } finally {
      abort.abort()
      this.stopper.signal.removeEventListener('abort', stop)
    }
  }

  /** Reads events until the stream ends; returns why it ended. */
  private async read(body: ReadableStream<Uint8Array>, abort: AbortController): Promise<string> {
    const parser = new SseParser(this.lastEventId)
    const reader = body.getReader()
    const decoder = new TextDecoder()
    const silence = this.options.silenceTimeoutMs ?? SILENCE_TIMEOUT_MS
    let silent = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const watch = () => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        silent = true
        abort.abort()
      }, silence)
    }
    try {
      for (;;) {
        watch()
        const { done, value } = await reader.read()
        if (done) return 'the server ended the stream'
        for (const event of parser.push(decoder.decode(value, { stream: true }))) this.options.onEvent(event)
        this.lastEventId = parser.lastEventId
        if (parser.retry !== null) this.retryMs = parser.retry
      }
    } catch (e) {
      if (silent) return `the connection was silent for ${silence / 1000} s`
      throw e
    } finally {
      clearTimeout(timer)
    }
  }
}
