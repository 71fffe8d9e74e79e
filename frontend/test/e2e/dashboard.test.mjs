// The dashboard end to end: the real host serving frontend/dist at `/` and
// the real components, driven in headless Chromium. Each test signs in as a
// user of its own, so they do not see each other's tasks.

import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, afterEach, before, test } from 'node:test'
import { ARTIFACTS, MANIFEST, openBrowser, startHost, waitUntil } from './harness.mjs'

/** @type {Awaited<ReturnType<typeof startHost>>} */
let host
/** The browsers the running test opened. */
let browsers = []

before(async () => {
  host = await startHost()
  const index = await fetch(`${host.url}/`, { headers: { accept: 'text/html' } })
  assert.match(
    await index.text(),
    /<div id="app">/,
    `the host does not serve frontend/dist at /: ${MANIFEST} needs a [[trigger.static]] route "/..." for it`,
  )
})

afterEach(async () => {
  const opened = browsers
  browsers = []
  await Promise.all(opened.map((b) => b.close()))
  assert.deepEqual(opened.flatMap((b) => b.errors), [], 'uncaught errors in the page')
})

after(async () => {
  await host?.stop()
})

async function browser() {
  const opened = await openBrowser()
  browsers.push(opened)
  return opened.page
}

async function signIn(page, userId) {
  await page.goto(`${host.url}/`)
  await page.getByLabel('User id').fill(userId)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.getByLabel('New task').waitFor()
}

async function addTask(page, title) {
  const input = page.getByLabel('New task')
  await input.fill(title)
  await input.press('Enter')
}

const item = (page, title) => page.locator('.todo-list > li').filter({ has: page.getByText(title, { exact: true }) })
const titles = (page) => page.locator('.todo-list .title').allTextContents()
// A task's checkbox follows the server's answer, not the click: click it, and
// let the caller wait for the effect (Playwright's check() would assert the
// box changed the instant the click returned, which races the request).
const toggle = (page, title) => item(page, title).getByRole('checkbox').click()

async function expectText(locator, expected, timeoutMs = 5000) {
  let actual
  await waitUntil(
    async () => (actual = (await locator.textContent({ timeout: timeoutMs }))?.trim()) === expected,
    timeoutMs,
    `“${expected}” (last seen “${actual}”)`,
  )
}

test('signs in with the development sign-in, or a pasted token, and out again', async () => {
  const page = await browser()
  await signIn(page, 'e2e-alice')
  await expectText(page.locator('.user'), 'e2e-alice')
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('User id').waitFor()

  const { token } = await (
    await fetch(`${host.url}/auth/dev/sign-in`, { method: 'POST', body: JSON.stringify({ user_id: 'e2e-bob' }) })
  ).json()
  await page.getByRole('button', { name: 'Use a token instead' }).click()
  await page.getByLabel('Access token (JWT)').fill('not a token')
  await page.getByRole('button', { name: 'Sign in with token' }).click()
  await page.getByText('this is not a JSON Web Token').waitFor()
  await page.getByLabel('Access token (JWT)').fill(token)
  await page.getByRole('button', { name: 'Sign in with token' }).click()
  await expectText(page.locator('.user'), 'e2e-bob')
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('User id').waitFor()
})

test('adds, edits, completes, filters and deletes tasks the TodoMVC way', async () => {
  const page = await browser()
  await signIn(page, 'e2e-todomvc')
  await page.getByText('Nothing to do yet.').waitFor()

  await addTask(page, '   Buy milk  ')
  await addTask(page, '    ') // ignored
  await addTask(page, 'Walk the dog')
  await expectText(page.locator('.todo-count'), '2 items left')
  assert.deepEqual(await titles(page), ['Walk the dog', 'Buy milk'])

  // Double-click edits, Enter saves; Escape cancels.
  await item(page, 'Buy milk').locator('.title').dblclick()
  await page.locator('.todo-list .edit').fill('Buy oat milk')
  await page.locator('.todo-list .edit').press('Enter')
  await item(page, 'Buy oat milk').waitFor()
  await item(page, 'Buy oat milk').locator('.title').dblclick()
  await page.locator('.todo-list .edit').fill('something else')
  await page.locator('.todo-list .edit').press('Escape')
  await item(page, 'Buy oat milk').waitFor()
  // From the keyboard: Enter on the focused title edits it too.
  await item(page, 'Buy oat milk').locator('.title').focus()
  await page.keyboard.press('Enter')
  await page.locator('.todo-list .edit').fill('Buy oat milk, 2 l')
  await page.keyboard.press('Enter')
  await item(page, 'Buy oat milk, 2 l').waitFor()

  // Toggle, and the filters, kept in the URL.
  await toggle(page, 'Walk the dog')
  await expectText(page.locator('.todo-count'), '1 item left')
  await page.getByRole('link', { name: 'Completed' }).click()
  assert.equal(new URL(page.url()).hash, '#/completed')
  assert.deepEqual(await titles(page), ['Walk the dog'])
  await page.getByRole('link', { name: 'Active' }).click()
  await page.reload()
  await item(page, 'Buy oat milk, 2 l').waitFor()
  assert.deepEqual(await titles(page), ['Buy oat milk, 2 l'])
  await page.getByRole('link', { name: 'All' }).click()
  assert.equal(new URL(page.url()).hash, '#/')

  // Delete; the server agrees after a reload.
  await item(page, 'Walk the dog').getByRole('button', { name: /^Delete/ }).click()
  await item(page, 'Walk the dog').waitFor({ state: 'detached' })
  await page.reload()
  await item(page, 'Buy oat milk, 2 l').waitFor()
  assert.deepEqual(await titles(page), ['Buy oat milk, 2 l'])

  // An edit blanked out deletes the task (TodoMVC).
  await item(page, 'Buy oat milk, 2 l').locator('.title').dblclick()
  await page.locator('.todo-list .edit').fill('  ')
  await page.locator('.todo-list .edit').press('Enter')
  await page.getByText('Nothing to do yet.').waitFor()
})

test('shows the API’s errors and stays usable on a narrow screen', async () => {
  const page = await browser()
  await page.setViewportSize({ width: 360, height: 740 })
  await signIn(page, 'e2e-errors')
  await addTask(page, 'x'.repeat(501))
  await page.getByRole('alert').getByText('Could not add the task: title: must be at most 500 characters, got 501').waitFor()
  assert.equal((await page.getByLabel('New task').inputValue()).length, 501, 'the title is given back to fix')
  await page.getByRole('button', { name: 'Dismiss this error' }).click()
  await addTask(page, 'A task on a small screen')
  await item(page, 'A task on a small screen').waitFor()
  await page.getByRole('button', { name: /^Notifications/ }).click()
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`)
})

test('a task created on one device appears on another within 2 seconds', async () => {
  const [one, other] = [await browser(), await browser()]
  await signIn(one, 'e2e-sync')
  await signIn(other, 'e2e-sync')
  for (const page of [one, other]) await page.locator('[data-live="open"]').waitFor()

  await addTask(one, 'Made on device one')
  const created = Date.now()
  await item(other, 'Made on device one').waitFor({ timeout: 2000 })
  const elapsed = Date.now() - created
  assert.ok(elapsed <= 2000, `appeared after ${elapsed} ms`)

  await toggle(other, 'Made on device one')
  await waitUntil(async () => (await item(one, 'Made on device one').getAttribute('class'))?.includes('completed'), 2000, 'the completion')
  await item(one, 'Made on device one').getByRole('button', { name: /^Delete/ }).click()
  await item(other, 'Made on device one').waitFor({ state: 'detached', timeout: 2000 })
})

test('the live indicator shows a lost stream, and it reconnects with backoff', async () => {
  const page = await browser()
  await page.route('**/api/stream/tasks', (route) => route.abort('connectionrefused'))
  await signIn(page, 'e2e-offline')
  await page.locator('[data-live="down"]').getByText('Live updates down').waitFor()
  await page.unroute('**/api/stream/tasks')
  await page.locator('[data-live="open"]').waitFor({ timeout: 15_000 })
})

test('opens a task’s history: its audit trail as a timeline', async () => {
  const page = await browser()
  await signIn(page, 'e2e-history')
  await addTask(page, 'Plan trip')
  await item(page, 'Plan trip').locator('.title').dblclick()
  await page.locator('.todo-list .edit').fill('Plan the trip')
  await page.locator('.todo-list .edit').press('Enter')
  await toggle(page, 'Plan the trip')
  await waitUntil(async () => (await item(page, 'Plan the trip').getAttribute('class'))?.includes('completed'), 5000, 'the completion')

  await item(page, 'Plan the trip').getByRole('link', { name: /^Details and history/ }).click()
  assert.match(new URL(page.url()).hash, /^#\/\?task=[0-9a-f-]{36}$/)
  const panel = page.getByRole('complementary')
  const events = panel.locator('.timeline > li')
  await waitUntil(async () => (await events.count()) === 3, 5000, 'three history entries')
  assert.deepEqual(await events.locator('strong').allTextContents(), ['Created', 'Updated', 'Completed'])
  assert.equal((await events.nth(1).locator('.changes').innerText()).trim(), 'title “Plan trip” → “Plan the trip”')
  assert.equal((await events.nth(2).locator('.changes').innerText()).trim(), 'completed not done → done')
  assert.match(await events.nth(0).locator('time').innerText(), /now|second|minute/)

  // Edited in the panel: the timeline grows with it.
  await panel.getByLabel('Priority').selectOption('high')
  await panel.getByRole('button', { name: 'Save' }).click()
  await waitUntil(async () => (await events.count()) === 4, 5000, 'a fourth history entry')
  assert.equal((await events.nth(3).locator('.changes').innerText()).trim(), 'priority medium → high')
  await expectText(item(page, 'Plan the trip').locator('.priority'), 'high')
})

const NOTIFICATIONS_READY = /\[component\.reminder-checker\]/.test(await readFile(MANIFEST, 'utf8'))

/** Adds a task due in `minutes`, typing the due time in the browser's own zone. */
async function addTaskDueIn(page, title, minutes) {
  const due = await page.evaluate((m) => {
    const d = new Date(Date.now() + m * 60_000)
    const pad = (n) => String(n).padStart(2, '0')
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
  }, minutes)
  const details = page.getByRole('button', { name: 'Details', exact: true })
  if (await details.isVisible()) await details.click()
  await page.locator('#new-due').fill(due)
  await addTask(page, title)
  await item(page, title).waitFor()
}

// Needs the reminder-checker and notification-handler components (and the
// Notification API) in spin.toml; skipped, saying so, until they are.
test(
  'the bell count rises live when a reminder creates a notification',
  { skip: !NOTIFICATIONS_READY && 'NOT RUN: spin.toml has no reminder-checker component yet' },
  async () => {
    const page = await browser()
    await signIn(page, 'e2e-bell')
    await page.locator('[data-live="open"]').waitFor()
    const bell = page.getByRole('button', { name: /^Notifications/ })
    assert.equal(await bell.getAttribute('aria-label'), 'Notifications, 0 unread')

    await addTaskDueIn(page, 'Call the plumber', 30)
    await addTaskDueIn(page, 'Pick up the parcel', 40)
    // Shown in the browser's zone (Europe/Berlin here), which is named.
    assert.match(await item(page, 'Call the plumber').locator('.due').innerText(), /^due .* GMT\+[12]$/)
    await host.runJob('reminder-checker', new Date())
    await waitUntil(async () => (await bell.getAttribute('aria-label')) === 'Notifications, 2 unread', 10_000, 'two unread notifications')
    await expectText(bell.locator('.badge'), '2')

    await bell.click()
    const list = page.getByRole('region', { name: 'Notifications' })
    await list.getByText('Task due soon').first().waitFor()
    await list.getByRole('button', { name: /^Mark “.*” read$/ }).first().click()
    await expectText(bell.locator('.badge'), '1')
    await list.getByRole('link').first().click() // to the task's panel
    await page.getByRole('complementary').locator('.timeline > li').first().waitFor()
    await bell.click()
    await list.getByRole('button', { name: 'Mark all read' }).click()
    await bell.locator('.badge').waitFor({ state: 'detached' })
  },
)

test('screenshot: the dashboard with a few tasks and the notification list open', async () => {
  const page = await browser()
  await signIn(page, 'e2e-bell') // the bell test's user, with its tasks and notifications
  await addTask(page, 'Renew the passport')
  await toggle(page, 'Renew the passport')
  await waitUntil(async () => (await item(page, 'Renew the passport').getAttribute('class'))?.includes('completed'), 5000, 'the completion')
  await page.getByRole('button', { name: 'Details', exact: true }).click()
  await page.locator('#new-priority').selectOption('high')
  await page.locator('#new-tags').fill('home, garden')
  await page.locator('#new-repeat').selectOption('weekly')
  await addTask(page, 'Water the plants')
  await item(page, 'Water the plants').waitFor()
  if (NOTIFICATIONS_READY) {
    await addTaskDueIn(page, 'Return the library books', 20)
    await host.runJob('reminder-checker', new Date())
    await expectText(page.locator('.bell .badge'), '1', 10_000)
  }
  await page.getByRole('button', { name: 'Hide details' }).click()
  await page.getByRole('button', { name: /^Notifications/ }).click()
  await page.getByRole('region', { name: 'Notifications' }).waitFor()
  const path = join(ARTIFACTS, 'screenshots/dashboard.png')
  await page.screenshot({ path })
  console.log(`screenshot: ${path}`)
})
