import { describe, expect, it } from 'vitest'
import { Api, ApiError, devSignIn, type Fetch } from '../../src/api'
import { json, task } from './fixtures'

/** A fetch that answers from `answers` in turn and records each request. */
function fakeFetch(...answers: (Response | Error)[]) {
  const requests: { url: string; init: RequestInit }[] = []
  const fetchFn: Fetch = async (url, init = {}) => {
    requests.push({ url: String(url), init })
    const answer = answers.shift()
    if (answer === undefined) throw new Error('unexpected request')
    if (answer instanceof Error) throw answer
    return answer
  }
  return { fetchFn, requests }
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => null, (e: unknown) => e)
  expect(error).toBeInstanceOf(ApiError)
  return error as ApiError
}

describe('Api', () => {
  it('sends the token and JSON bodies', async () => {
    const { fetchFn, requests } = fakeFetch(json(201, task()))
    await new Api('t0k3n', fetchFn).createTask({ title: 'Water the plants', tags: ['home'] })
    const [{ url, init }] = requests
    expect(url).toBe('/api/todos')
    expect(init.method).toBe('POST')
    expect(init.headers).toMatchObject({ authorization: 'Bearer t0k3n', 'content-type': 'application/json' })
    expect(JSON.parse(String(init.body))).toEqual({ title: 'Water the plants', tags: ['home'] })
  })

  it('turns the error envelope into an ApiError with the server’s code and message', async () => {
    const { fetchFn } = fakeFetch(json(422, { error: { code: 'validation_failed', message: 'title: must not be empty' } }))
    const error = await failure(new Api('t', fetchFn).updateTask('x', { title: '' }))
    expect([error.status, error.code, error.message]).toEqual([422, 'validation_failed', 'title: must not be empty'])
  })

  it('reports a response that is not the API’s by its status line', async () => {
    const { fetchFn } = fakeFetch(new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }))
    const error = await failure(new Api('t', fetchFn).getTask('x'))
    expect([error.status, error.code, error.message]).toEqual([502, 'http_502', 'the server answered 502 Bad Gateway'])
  })

  it('reports an unreachable server', async () => {
    const { fetchFn } = fakeFetch(new TypeError('Failed to fetch'))
    const error = await failure(new Api('t', fetchFn).deleteTask('x'))
    expect([error.status, error.code, error.message]).toEqual([0, 'network_error', 'cannot reach the server (Failed to fetch)'])
  })

  it('answers a 204 with nothing', async () => {
    const { fetchFn, requests } = fakeFetch(new Response(null, { status: 204 }))
    await expect(new Api('t', fetchFn).deleteTask('a/b')).resolves.toBeUndefined()
    expect(requests[0].url).toBe('/api/todos/a%2Fb')
  })

  it('follows the cursor through every page of tasks', async () => {
    const { fetchFn, requests } = fakeFetch(
      json(200, { items: [task({ id: '1' })], next_cursor: 'c1' }),
      json(200, { items: [task({ id: '2' })], next_cursor: null }),
    )
    const tasks = await new Api('t', fetchFn).allTasks()
    expect(tasks.map((t) => t.id)).toEqual(['1', '2'])
    expect(requests.map((r) => r.url)).toEqual(['/api/todos?limit=100', '/api/todos?limit=100&cursor=c1'])
  })

  it('unwraps the notification answers', async () => {
    const { fetchFn, requests } = fakeFetch(json(200, { count: 3 }), json(200, { updated: 2 }), json(200, { items: [], next_cursor: null }))
    const api = new Api('t', fetchFn)
    expect(await api.unreadCount()).toBe(3)
    expect(await api.markAllRead()).toBe(2)
    expect(await api.notifications(20)).toEqual([])
    expect(requests.map((r) => `${r.init.method} ${r.url}`)).toEqual([
      'GET /api/notifications/unread-count',
      'POST /api/notifications/read-all',
      'GET /api/notifications?limit=20',
    ])
  })

  it('signs in without a token, and says when the dev sign-in is off', async () => {
    const session = { token: 'jwt', user_id: 'alice', expires_at: '2026-11-27T10:00:00Z' }
    const { fetchFn, requests } = fakeFetch(
      json(200, session),
      json(404, { error: { code: 'not_found', message: 'development sign-in is off (TODO_JWT_SECRET is set)' } }),
    )
    expect(await devSignIn('alice', fetchFn)).toEqual(session)
    expect(requests[0].init.headers).not.toHaveProperty('authorization')
    const error = await failure(devSignIn('alice', fetchFn))
    expect(error.status).toBe(404)
  })
})
