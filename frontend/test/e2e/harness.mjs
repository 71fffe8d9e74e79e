// The e2e harness: the real host (target/debug/todo-host) on a free port with
// a fresh data directory, and Debian's Chromium driven by playwright-core
// with a fresh profile. Nothing is downloaded.

import { execFile, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { chromium } from 'playwright-core'

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const MANIFEST = join(REPO, 'spin.toml')
export const ARTIFACTS = join(REPO, 'target')
const HOST = join(REPO, 'target/debug/todo-host')
const CHROMIUM = '/usr/bin/chromium'
// Flags that keep Chromium from reaching out on this closed network.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/**
 * Starts `todo-host up` on 127.0.0.1:0 with a fresh data directory and
 * without TODO_JWT_SECRET (so the development sign-in is on); resolves once
 * it is ready. Its log goes to target/e2e/host.log.
 */
export async function startHost() {
  const dataDir = await mkdtemp(join(tmpdir(), 'todo-e2e-'))
  await mkdir(join(ARTIFACTS, 'e2e'), { recursive: true })
  const log = createWriteStream(join(ARTIFACTS, 'e2e/host.log'))
  const env = { ...process.env }
  delete env.TODO_JWT_SECRET
  const child = spawn(HOST, ['up', '--listen', '127.0.0.1:0', '-f', MANIFEST, '--data-dir', dataDir], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stderr.pipe(log)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let url
  try {
    url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the host did not listen within 180 s (see target/e2e/host.log)')), 180_000)
      exited.then((code) => {
        clearTimeout(timer)
        reject(new Error(`the host exited with ${code} before listening (see target/e2e/host.log)`))
      })
      createInterface({ input: child.stdout }).on('line', (line) => {
        const listening = line.match(/todo-host listening on (http:\/\/\S+)/)
        if (listening !== null) {
          clearTimeout(timer)
          resolve(listening[1])
        }
      })
    })
    await waitUntil(async () => (await fetch(`${url}/readyz`).catch(() => null))?.ok, 120_000, 'the host to be ready')
  } catch (e) {
    child.kill('SIGKILL')
    await rm(dataDir, { recursive: true, force: true })
    throw e
  }
  return {
    url,
    dataDir,
    /** Runs a scheduled component once, as cron would at `at`; the host relays what it publishes. */
    runJob: (component, at) =>
      promisify(execFile)(HOST, ['job', component, '--at', at.toISOString(), '-f', MANIFEST, '--data-dir', dataDir], { env }),
    async stop() {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
      log.end()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** A browser with a fresh profile (a person on another device, as far as the app can tell). */
export async function openBrowser() {
  const profile = await mkdtemp(join(tmpdir(), 'todo-e2e-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
    // A zone other than the host's UTC, so dates must be converted to show right.
    timezoneId: 'Europe/Berlin',
    locale: 'en-US',
  })
  const errors = []
  context.on('weberror', (error) => errors.push(error.error()))
  return {
    context,
    page: context.pages()[0] ?? (await context.newPage()),
    /** Exceptions the page's scripts threw and nobody caught. */
    errors,
    async close() {
      await context.close()
      await rm(profile, { recursive: true, force: true })
    },
  }
}

/** Polls `condition` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
