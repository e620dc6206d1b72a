// Drives the control plane's admin status page (/admin) in Debian's Chromium through
// playwright-core, for tests/operations/status_page.rs: enters a wrong token (the page must say
// it was refused), then the right one, waits for the page to load its data, reads every number
// it shows (the `data-field`/`data-value` cells, counts, graphs), reloads to check the token
// stayed in the tab's session, and prints its findings as one JSON line. On a failure a
// screenshot goes to `shots`.
//
//   node status_page.mjs '{"url": "http://127.0.0.1:PORT/admin", "token": "…", "shots": "…", "graphPoints": N}'

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

const config = JSON.parse(process.argv[2] || '{}')
const shots = config.shots || join(tmpdir(), 'vidseed-status-page-shots')
const profile = mkdtempSync(join(tmpdir(), 'vidseed-chromium-'))
const args = ['--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox')
let context
let page
const log = []

function read () {
  return page.evaluate(() => {
    const cells = (table) => [...document.querySelectorAll(`#${table} tbody tr`)].map(tr => {
      const row = { ...tr.dataset }
      for (const td of tr.querySelectorAll('td[data-field]')) {
        row[td.dataset.field] = td.dataset.value !== undefined ? Number(td.dataset.value) : td.textContent
      }
      return row
    })
    const text = id => document.getElementById(id).textContent
    const line = document.querySelector('#graph-requests polyline')
    return {
      loaded: Number(document.body.dataset.loaded || 0),
      loginShown: !document.getElementById('login').hidden,
      fetchError: text('fetch-error'),
      latestSeq: text('latest-seq'),
      nodes: cells('nodes'),
      videos: cells('videos'),
      videoCount: Number(text('video-count')),
      followingCount: Number(text('following-count')),
      followersCount: Number(text('followers-count')),
      deliveryCount: Number(text('delivery-count')),
      copyCount: Number(text('copy-count')),
      graphPoints: Number(line.dataset.count || 0),
      graphPolyline: line.getAttribute('points').split(' ').filter(Boolean).length
    }
  })
}

async function login (token) {
  await page.waitForSelector('#login:not([hidden])')
  await page.fill('#token', token)
  await page.click('#login button[type=submit]')
}

async function main () {
  context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args })
  page = context.pages()[0] || await context.newPage()
  page.on('console', m => { if (m.type() === 'error') log.push(`console: ${m.text()}`) })
  page.on('pageerror', e => log.push(`pageerror: ${e.message}`))
  await page.goto(config.url)
  await login('not-the-token')
  await page.waitForFunction(() => document.getElementById('login-error').textContent.includes('refused'), undefined, { timeout: 20000 })
  const refused = await page.textContent('#login-error')
  await login(config.token)
  await page.waitForFunction(n => Number(document.body.dataset.loaded || 0) >= 1 &&
    Number((document.querySelector('#graph-requests polyline').dataset.count) || 0) >= n, config.graphPoints || 0, { timeout: 40000 })
  const first = await read()
  await page.reload()
  await page.waitForFunction(() => Number(document.body.dataset.loaded || 0) >= 1, undefined, { timeout: 20000 })
  const afterReload = await read()
  const errors = log.filter(l => !l.includes('401'))
  return { refused, first, afterReload, errors }
}

main().then(found => {
  process.stdout.write(JSON.stringify({ ok: true, ...found }) + '\n')
}, async err => {
  mkdirSync(shots, { recursive: true })
  const path = join(shots, 'status-page.png')
  const saved = page ? await page.screenshot({ path, fullPage: true }).then(() => [path], () => []) : []
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.stack || err), screenshots: saved, log }) + '\n')
  process.exitCode = 1
}).finally(async () => {
  if (context) await context.close().catch(() => {})
  rmSync(profile, { recursive: true, force: true })
})
