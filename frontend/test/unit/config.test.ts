import { describe, expect, it } from 'vitest'
import { loadConfig, SAME_ORIGIN_STREAM } from '../../src/config'

const answering = (status: number, body: unknown) => async () =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

describe('loadConfig', () => {
  it('takes the stream URL the host configured', async () => {
    const config = await loadConfig(answering(200, { stream_url: 'http://127.0.0.1:3001/api/stream/tasks' }))
    expect(config.streamUrl).toBe('http://127.0.0.1:3001/api/stream/tasks')
  })

  it('falls back to the same origin when the URL is empty, the file missing or the host unreachable', async () => {
    expect((await loadConfig(answering(200, { stream_url: '' }))).streamUrl).toBe(SAME_ORIGIN_STREAM)
    expect((await loadConfig(answering(404, { error: { code: 'not_found', message: 'no' } }))).streamUrl).toBe(SAME_ORIGIN_STREAM)
    const unreachable = async (): Promise<Response> => {
      throw new TypeError('fetch failed')
    }
    expect((await loadConfig(unreachable)).streamUrl).toBe(SAME_ORIGIN_STREAM)
  })
})
