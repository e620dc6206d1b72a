// Drives vidseed's watch page in Debian's Chromium through playwright-core (no browser download),
// for tests/browser.rs and loadtest/watch-page-vs-nginx.sh. Runs one scenario and prints its
// findings as one JSON line on stdout; the Rust side asserts on them. Every browser is its own
// Chromium process with a fresh profile; WebRTC between them works on loopback (the caller runs
// everything inside a loopback-only network namespace) with camera/microphone granted and no
// ICE servers (the page's default).
//
//   node watch_page.mjs SCENARIO '{"watchUrl": …, …}'
//
// Scenarios:
//   play-and-share  A plays from the WebSeeds, B (WebSeeds blocked) gets every piece from A
//   two-tabs        two watch pages (`watchUrls`) in one browser both play: the service worker
//                   answers each tab's requests from that tab
//   failover        plays with two WebSeeds, seeks ahead, kills the process `killPid` mid-play
//   cors            the WebSeed is behind a proxy without CORS (`proxyPort` → `upstream`): the
//                   panel must say so
//   measure         time to first frame and download rate, `runs` times, fresh browser each
// On a failure the pages' screenshots go to `shots` (a folder) and their paths into the error.

import http from 'node:http'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'

const [scenario, rawConfig] = process.argv.slice(2)
const config = JSON.parse(rawConfig || '{}')
const shots = config.shots || join(tmpdir(), 'vidseed-watch-page-shots')
const pages = [] // [name, page]: screenshotted on failure
const browsers = []

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

class Failure extends Error {}
function check (ok, what, details) {
  if (!ok) throw new Failure(`${what}${details === undefined ? '' : `: ${JSON.stringify(details)}`}`)
}

/** A Chromium with a profile of its own, and a page on `url` granted camera and microphone. */
async function open (name, url, { route } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'vidseed-chromium-'))
  const args = [
    '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--disable-quic', '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required'
  ]
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox')
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args
  })
  browsers.push([context, profile])
  await context.grantPermissions(['camera', 'microphone'], { origin: new URL(url).origin })
  if (route) await context.route(route.pattern, route.handler)
  const page = context.pages()[0] || await context.newPage()
  const log = []
  page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') log.push(`${m.type()}: ${m.text()}`) })
  page.on('pageerror', e => log.push(`pageerror: ${e.message}`))
  pages.push([name, page, log])
  await page.goto(url)
  return page
}

/** The page's own numbers (window.vidseed.state plus the torrent's and the player's). */
function snapshot (page) {
  return page.evaluate(() => {
    const v = window.vidseed
    const t = v && v.torrent
    const p = document.getElementById('player')
    return {
      ...(v ? v.state : {}),
      webseeds: v ? v.state.webseeds.map(w => ({ label: w.label, url: w.url, bytes: w.bytes, status: w.status, problem: w.problem, addedAt: w.addedAt })) : [],
      done: !!(t && t.done),
      progress: t ? t.progress : 0,
      length: t ? t.length : 0,
      peers: t ? t.wires.filter(w => w.type !== 'webSeed').length : 0,
      currentTime: p.currentTime,
      paused: p.paused,
      playerError: p.error ? p.error.code : null,
      panel: document.getElementById('panel').innerText
    }
  })
}

async function until (page, what, fn, arg, timeout = 60000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 })
  } catch (e) {
    throw new Failure(`${what} (waited ${timeout / 1000} s): ${JSON.stringify(await snapshot(page).catch(() => null))}`)
  }
}

/** The `<video>` plays: currentTime moves on by at least `by` seconds. */
async function plays (page, name, by = 0.5) {
  await until(page, `${name}: the first frame`, () => window.vidseed && window.vidseed.state.firstFrameMs !== null)
  const t0 = await page.evaluate(() => document.getElementById('player').currentTime)
  await until(page, `${name}: currentTime advances`, ([t, d]) => document.getElementById('player').currentTime >= t + d, [t0, by], 20000)
  const s = await snapshot(page)
  check(!s.paused && s.playerError === null, `${name}: the player is playing`, s)
  return t0
}

async function downloaded (page, name, timeout) {
  await until(page, `${name}: the download completes`, () => window.vidseed.torrent && window.vidseed.torrent.done, undefined, timeout)
  return {
    sha256: await page.evaluate(() => window.vidseed.sha256()),
    ...(await snapshot(page))
  }
}

// ---------------------------------------------------------------------------------------------

async function playAndShare () {
  const a = await open('A', config.watchUrl)
  await plays(a, 'A')
  const ra = await downloaded(a, 'A', 60000)
  let blocked = 0
  const b = await open('B', config.watchUrl, {
    route: { pattern: '**/static/webseed/**', handler: route => { blocked++; return route.abort('blockedbyclient') } }
  })
  await plays(b, 'B')
  const rb = await downloaded(b, 'B', 90000)
  return { a: ra, b: rb, aAfter: await snapshot(a), blockedWebSeedRequests: blocked }
}

async function twoTabs () {
  // Two watch pages of two videos in one browser share the service worker: each tab's video
  // requests must be answered by that tab.
  const [first, second] = config.watchUrls
  const a = await open('tab 1', first)
  await plays(a, 'tab 1')
  const b = await a.context().newPage()
  const log = []
  b.on('pageerror', e => log.push(`pageerror: ${e.message}`))
  pages.push(['tab 2', b, log])
  await b.goto(second)
  await plays(b, 'tab 2')
  // Back to the start in tab 1: its player asks the worker again, now with two tabs open.
  await a.evaluate(() => { document.getElementById('player').currentTime = 0 })
  await plays(a, 'tab 1 with tab 2 open', 0.3)
  return { a: await downloaded(a, 'tab 1', 60000), b: await downloaded(b, 'tab 2', 60000) }
}

async function failover () {
  // Slow every WebSeed answer a little so the download outlasts the kill.
  const delay = config.delayMs ?? 150
  const slow = { pattern: '**/static/webseed/**', handler: async route => { await sleep(delay); return route.continue().catch(() => {}) } }
  const page = await open('player', config.watchUrl, { route: slow })
  await plays(page, 'player', 0.3)
  // Seek ahead: the player asks the service worker for that range, WebTorrent fetches it first.
  const seekTo = await page.evaluate(() => {
    const p = document.getElementById('player')
    p.currentTime = Math.floor(p.duration * 0.6)
    return p.currentTime
  })
  await until(page, 'playback resumes after seeking ahead', ([t]) => document.getElementById('player').currentTime >= t + 0.3, [seekTo], 30000)
  const before = await snapshot(page)
  check(!before.done, 'the download is still running when a node is stopped (raise the size or delayMs)', before)
  process.kill(config.killPid, 'SIGKILL')
  const killedAt = await page.evaluate(() => document.getElementById('player').currentTime)
  // Playback goes on past the moment of the kill, and the download completes.
  await until(page, 'playback goes on after the node stopped', ([t]) => document.getElementById('player').currentTime >= t + 2, [killedAt], 60000)
  const after = await downloaded(page, 'player', 90000)
  return { before, after, killedAt, seekTo }
}

/**
 * A reverse proxy in front of the data plane with no CORS set-up (a common misconfiguration):
 * OPTIONS gets 405 and answers lose their `Access-Control-*` headers.
 */
function corslessProxy (port, upstream) {
  const [host, upstreamPort] = upstream.split(':')
  const server = http.createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(405, { Allow: 'GET, HEAD' })
      return res.end()
    }
    const up = http.request({ host, port: Number(upstreamPort), path: req.url, method: req.method, headers: req.headers }, answer => {
      const headers = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !k.startsWith('access-control-')))
      res.writeHead(answer.statusCode, headers)
      answer.pipe(res)
    })
    up.on('error', () => { res.writeHead(502); res.end() })
    req.pipe(up)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

async function cors () {
  // The page's only WebSeed is behind the proxy: the browser refuses every answer and WebTorrent
  // stays silent (no error event); the panel must name the WebSeed and say why.
  const proxy = await corslessProxy(config.proxyPort, config.upstream)
  try {
    const page = await open('player', config.watchUrl)
    await until(page, 'the panel reports the silent WebSeed', () => {
      const ws = window.vidseed && window.vidseed.state.webseeds[0]
      return ws && ws.status === 'stalled' && ws.problem
    }, undefined, 40000)
    return await snapshot(page)
  } finally {
    proxy.close()
  }
}

async function measure () {
  const runs = []
  for (let i = 0; i < (config.runs || 3); i++) {
    const page = await open(`run ${i + 1}`, config.watchUrl)
    await plays(page, `run ${i + 1}`, 0.2)
    const r = await downloaded(page, `run ${i + 1}`, 300000)
    check(!config.sha256 || r.sha256 === config.sha256, 'the bytes hash to the file', r.sha256)
    runs.push({ firstFrameMs: r.firstFrameMs, metadataMs: r.metadataMs, doneMs: r.doneMs, length: r.length, fromWebSeeds: r.fromWebSeeds })
    const [context, profile] = browsers.pop()
    pages.pop()
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
  return { runs }
}

const scenarios = { 'play-and-share': playAndShare, 'two-tabs': twoTabs, failover, cors, measure }

async function main () {
  const run = scenarios[scenario]
  if (!run) throw new Error(`unknown scenario ${scenario}: one of ${Object.keys(scenarios).join(', ')}`)
  try {
    process.stdout.write(JSON.stringify({ ok: true, ...(await run()) }) + '\n')
  } catch (err) {
    mkdirSync(shots, { recursive: true })
    const saved = []
    for (const [name, page, log] of pages) {
      const path = join(shots, `${scenario}-${name.replace(/\W+/g, '_')}.png`)
      await page.screenshot({ path, fullPage: true }).then(() => saved.push(path), () => {})
      if (log.length) process.stderr.write(`console of ${name}:\n  ${log.slice(-30).join('\n  ')}\n`)
    }
    process.stdout.write(JSON.stringify({ ok: false, error: err.message, screenshots: saved }) + '\n')
    process.exitCode = 1
  } finally {
    for (const [context, profile] of browsers) {
      await context.close().catch(() => {})
      rmSync(profile, { recursive: true, force: true })
    }
  }
}

main().catch(err => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.stack || err) }) + '\n')
  process.exit(1)
})
