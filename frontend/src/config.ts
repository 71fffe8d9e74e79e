// Where the dashboard finds what differs between hosts: `/todo-config.json`,
// which the static-files component serves from its Spin variables. Under
// `todo-host up` everything is one origin and the stream is at its usual
// path; under Spin the stream comes from the `sse` plugin's own address
// (variable `stream_url`), which answers this origin with CORS.

import type { Fetch } from './api'

/** The stream's path when it shares the dashboard's origin. */
export const SAME_ORIGIN_STREAM = '/api/stream/tasks'

export interface Config {
  /** The live stream's URL. */
  streamUrl: string
}

/** The configuration; a missing or unreadable file means the same-origin defaults. */
export async function loadConfig(fetchFn: Fetch = fetch): Promise<Config> {
  try {
    const response = await fetchFn('/todo-config.json', { headers: { accept: 'application/json' } })
    if (!response.ok) return { streamUrl: SAME_ORIGIN_STREAM }
    const { stream_url: streamUrl } = (await response.json()) as { stream_url?: unknown }
    return { streamUrl: typeof streamUrl === 'string' && streamUrl !== '' ? streamUrl : SAME_ORIGIN_STREAM }
  } catch {
    return { streamUrl: SAME_ORIGIN_STREAM }
  }
}
