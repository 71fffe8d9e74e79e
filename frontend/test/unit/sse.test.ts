import { describe, expect, it, vi } from 'vitest'
import type { Fetch } from '../../src/api'
import { backoffDelay, LiveStream, SseParser, type LiveStatus, type SseEvent } from '../../src/sse'
import { json } from './fixtures'

describe('SseParser', () => {
  it('parses events split anywhere across chunks, with CRLF, comments and multi-line data', () => {
    const parser = new SseParser()
    const text = ': keepalive\r\nid: log-1\r\nevent: sync.task-changed\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: resync\ndata: {}\n\n'
    const events: SseEvent[] = []
    for (const chunk of text.match(/[\s\S]{1,3}/g) ?? []) events.push(...parser.push(chunk))
    expect(events).toEqual([
      { type: 'sync.task-changed', data: '{"a":\n1}', id: 'log-1' },
      { type: 'resync', data: '{}', id: 'log-1' },
    ])
  })

  it('defaults the type to message, keeps the last id, and reads retry', () => {
    const parser = new SseParser('log-7')
    expect(parser.push('data:x\n\nretry: 1000\nretry: soon\n\nid\n\n')).toEqual([{ type: 'message', data: 'x', id: 'log-7' }])
    expect(parser.retry).toBe(1000)
    expect(parser.lastEventId).toBe('')
  })

  it('waits for the rest of a line, and does not dispatch an event without data', () => {
    const parser = new SseParser()
    expect(parser.push('event: a\n\ndata: 1\r')).toEqual([])
    expect(parser.push('\n\r\n')).toEqual([{ type: 'message', data: '1', id: '' }])
  })
})

describe('backoffDelay', () => {
  it('doubles per attempt up to the cap, jittered between half and all of it', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, 1000, 30_000, () => 1))).toEqual([1000, 2000, 4000, 8000])
    expect(backoffDelay(10, 1000, 30_000, () => 1)).toBe(30_000)
    expect(backoffDelay(10, 1000, 30_000, () => 0)).toBe(15_000)
  })
})

type Answer = Response | Error | string[]

/**
 * A fetch answering in turn: a Response, a thrown Error, or (string[]) a 200
 * event stream sending those chunks and then ending. Once the answers run out,
 * a stream that stays open until aborted.
 */
function fakeServer(answers: Answer[]) {
  const requests: Record<string, string>[] = []
  const fetchFn: Fetch = async (_url, init = {}) => {
    requests.push({ ...(init.headers as Record<string, string>) })
    const answer = answers.shift()
    if (answer instanceof Error) throw answer
    if (answer instanceof Response) return answer
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of answer ?? []) controller.enqueue(new TextEncoder().encode(chunk))
        if (answer !== undefined) controller.close()
        else init.signal?.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')))
      },
    })
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
  }
  return { fetchFn, requests }
}

function liveStream(answers: Answer[], silenceTimeoutMs?: number) {
  const server = fakeServer(answers)
  const seen = { events: [] as SseEvent[], opens: [] as boolean[], statuses: [] as LiveStatus[], sleeps: [] as number[], unauthorized: 0 }
  const stream = new LiveStream({
    url: '/api/stream/tasks',
    token: 't0k3n',
    fetch: server.fetchFn,
    onEvent: (e) => seen.events.push(e),
    onOpen: (resumed) => seen.opens.push(resumed),
    onStatus: (s) => seen.statuses.push(s),
    onUnauthorized: () => seen.unauthorized++,
    sleep: async (ms) => void seen.sleeps.push(ms),
    random: () => 1,
    silenceTimeoutMs,
  })
  stream.start()
  return { stream, seen, requests: server.requests }
}

describe('LiveStream', () => {
  it('authenticates with the header and resumes with Last-Event-ID after the stream ends', async () => {
    const event = 'id: log-1\nevent: sync.task-changed\ndata: {"task_id":"a"}\n\n'
    const { stream, seen, requests } = liveStream([[': keepalive\n\n', event]])
    await vi.waitFor(() => expect(requests).toHaveLength(2))
    stream.stop()
    expect(requests[0]).toEqual({ accept: 'text/event-stream', authorization: 'Bearer t0k3n' })
    expect(requests[1]['last-event-id']).toBe('log-1')
    expect(seen.events).toEqual([{ type: 'sync.task-changed', data: '{"task_id":"a"}', id: 'log-1' }])
    expect(seen.opens).toEqual([false, true])
    expect(seen.sleeps).toEqual([1000])
  })

  it('backs off exponentially while failing, and starts afresh after a stream that opened', async () => {
    const unavailable = () => json(503, { error: { code: 'unavailable', message: 'the stream log is unavailable' } })
    const { stream, seen, requests } = liveStream([unavailable(), new TypeError('Failed to fetch'), json(500, {}), [], unavailable()])
    await vi.waitFor(() => expect(requests).toHaveLength(6))
    stream.stop()
    expect(seen.sleeps).toEqual([1000, 2000, 4000, 1000, 1000])
    expect(seen.statuses.slice(0, 4)).toEqual([
      { state: 'connecting' },
      { state: 'down', reason: 'the stream log is unavailable', retryInMs: 1000 },
      { state: 'connecting' },
      { state: 'down', reason: 'Failed to fetch', retryInMs: 2000 },
    ])
    expect(seen.statuses.at(-1)).toEqual({ state: 'open' })
  })

  it('waits as long as the server’s retry asks', async () => {
    const { stream, seen, requests } = liveStream([['retry: 5000\n\n']])
    await vi.waitFor(() => expect(requests).toHaveLength(2))
    stream.stop()
    expect(seen.sleeps).toEqual([5000])
  })

  it('stops for good when the server refuses the token', async () => {
    const { seen, requests } = liveStream([json(401, { error: { code: 'unauthorized', message: 'invalid token' } })])
    await vi.waitFor(() => expect(seen.unauthorized).toBe(1))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(requests).toHaveLength(1)
    expect(seen.sleeps).toEqual([])
  })

  it('replaces a connection that goes silent', async () => {
    const { stream, seen, requests } = liveStream([], 20)
    await vi.waitFor(() => expect(requests.length).toBeGreaterThan(1))
    stream.stop()
    expect(seen.statuses).toContainEqual({ state: 'down', reason: 'the connection was silent for 0.02 s', retryInMs: 1000 })
  })
})
