// vidseed's watch page: plays one video with WebTorrent (WebSeeds + viewers met through the
// tracker), streaming through WebTorrent's service worker so playback starts before the download
// ends and seeking asks for the bytes it needs first, and keeps an honest live panel: peers,
// speeds, bytes from WebSeeds and from peers, and what each WebSeed did (a WebSeed that sends
// nothing — a CORS header missing, a server away — is named, since WebTorrent itself stays silent).
//
// The page's state is also on `window.vidseed` (numbers only, read by tests and by curious admins).

import WebTorrent from '/assets/webtorrent.min.js'

/**
 * Videos up to this size are kept in the page's memory; larger ones in WebTorrent's default store
 * (the origin's private file system). A fresh store in that file system is checked piece by piece
 * before playback can start: for 6 400 pieces that took 10–19 s in Chromium (docs/PERFORMANCE.md).
 */
const MEMORY_STORE_MAX = 512 * 1024 * 1024

/** A WebSeed that has sent nothing for this long while pieces are missing is reported. */
const STALL_MS = 8000
const PANEL_EVERY_MS = 500

const video = JSON.parse(document.getElementById('vidseed-video').textContent)
const player = document.getElementById('player')
const $ = id => document.getElementById(id)

const state = {
  phase: 'starting',
  error: null,
  // Milliseconds since the page's navigation began (performance.now()'s origin).
  startedAt: performance.now(),
  metadataMs: null,
  firstFrameMs: null,
  doneMs: null,
  streaming: false,
  fromWebSeeds: 0,
  fromPeers: 0,
  uploaded: 0,
  webseeds: video.webseeds.map((url, i) => ({
    url,
    label: video.nodes[i] || new URL(url).host,
    bytes: 0,
    lastDataAt: null,
    addedAt: null,
    status: 'waiting',
    problem: null,
    probing: false
  }))
}
window.vidseed = { video, state, client: null, torrent: null, sha256: null }

function fail (phase, err) {
  state.phase = 'failed'
  state.error = `${phase}: ${err && err.message ? err.message : err}`
  render()
}

// ---------------------------------------------------------------------------------------------
// WebSeeds: WebTorrent names a WebSeed's wire by the SHA-1 of its URL (its fake peer id).

async function sha1Hex (text) {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text))
  return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')
}

const webseedByPeerId = new Map()
const webseedIds = Promise.all(state.webseeds.map(async ws => {
  webseedByPeerId.set(await sha1Hex(ws.url), ws)
}))

function trackWire (wire) {
  if (wire.type === 'webSeed') {
    // The peer id arrives with the handshake, which a WebSeed answers at once.
    const attach = () => {
      const ws = webseedByPeerId.get(wire.peerId) || adoptWebSeed(wire)
      ws.addedAt ??= performance.now()
      wire.on('download', n => {
        state.fromWebSeeds += n
        ws.bytes += n
        ws.lastDataAt = performance.now()
        ws.problem = null
      })
    }
    if (wire.peerId) attach(); else wire.once('handshake', attach)
  } else {
    wire.on('download', n => { state.fromPeers += n })
  }
  wire.on('upload', n => { state.uploaded += n })
}

/** A WebSeed the torrent lists but the API did not (a cache added since the page loaded). */
function adoptWebSeed (wire) {
  const ws = { url: null, label: 'other', bytes: 0, lastDataAt: null, addedAt: null, status: 'waiting', problem: null, probing: false }
  state.webseeds.push(ws)
  webseedByPeerId.set(wire.peerId, ws)
  // Its URL is the one of the torrent's url-list whose SHA-1 is the wire's peer id.
  const urls = (window.vidseed.torrent && window.vidseed.torrent.urlList) || []
  for (const url of urls) {
    sha1Hex(url).then(id => {
      if (id === wire.peerId) {
        ws.url = url
        ws.label = new URL(url).host
      }
    })
  }
  return ws
}

/**
 * Asks a silent WebSeed for one byte the way WebTorrent does (a `Cache-Control` header, so the
 * browser sends a CORS preflight) to tell why it is silent.
 */
async function probe (ws) {
  ws.probing = true
  try {
    const res = await fetch(ws.url, {
      cache: 'no-store',
      headers: { 'Cache-Control': 'no-store', Range: 'bytes=0-0' },
      signal: AbortSignal.timeout(5000)
    })
    res.body?.cancel().catch(() => {})
    ws.problem = res.status === 206 || res.status === 200
      ? `sent no data for ${Math.round(STALL_MS / 1000)} s, though it answers a probe (HTTP ${res.status})`
      : `answers HTTP ${res.status}`
  } catch (err) {
    if (err.name === 'TimeoutError') {
      ws.problem = 'does not answer (probe timed out)'
    } else {
      // A request the browser may send without CORS tells a server that answers without the
      // CORS headers apart from one that cannot be reached at all.
      const reachable = await fetch(ws.url, { mode: 'no-cors', cache: 'no-store', headers: { Range: 'bytes=0-0' }, signal: AbortSignal.timeout(5000) })
        .then(res => { res.body?.cancel().catch(() => {}); return true }, () => false)
      ws.problem = reachable
        ? 'answers, but without the CORS headers a browser needs (Access-Control-Allow-Origin, and a 2xx to the OPTIONS preflight allowing Cache-Control and Range)'
        : 'unreachable'
    }
  } finally {
    ws.probing = false
  }
}

function checkWebSeeds (torrent) {
  const now = performance.now()
  // Nothing can be asked of a WebSeed before the torrent is ready: the clock starts then.
  const ready = torrent && torrent.ready && state.metadataMs !== null
  for (const ws of state.webseeds) {
    const since = ws.lastDataAt ?? Math.max(ws.addedAt ?? 0, state.metadataMs ?? 0)
    if (ws.lastDataAt !== null && now - ws.lastDataAt < 2000) {
      ws.status = 'sending'
    } else if (torrent && torrent.done) {
      ws.status = ws.bytes > 0 ? 'done' : 'not needed'
    } else if (ready && ws.addedAt !== null && now - since >= STALL_MS) {
      ws.status = 'stalled'
      if (!ws.problem && !ws.probing && ws.url) probe(ws).then(render)
    } else {
      ws.status = ws.bytes > 0 ? 'idle' : 'waiting'
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A chunk store in memory (WebTorrent's store interface: put/get/close/destroy, callbacks)

class MemoryStore {
  constructor (chunkLength, opts = {}) {
    this.chunkLength = Number(chunkLength)
    this.chunks = new Map()
    this.closed = false
    const length = Number(opts.length) || Infinity
    this.lastIndex = length === Infinity ? -1 : Math.ceil(length / this.chunkLength) - 1
    this.lastLength = length === Infinity ? 0 : (length % this.chunkLength) || this.chunkLength
  }

  put (index, buf, cb = () => {}) {
    if (this.closed) return queueMicrotask(() => cb(new Error('the store is closed')))
    const want = index === this.lastIndex ? this.lastLength : this.chunkLength
    if (buf.length !== want) return queueMicrotask(() => cb(new Error(`chunk ${index} must be ${want} bytes`)))
    this.chunks.set(index, buf)
    queueMicrotask(() => cb(null))
  }

  get (index, opts, cb = () => {}) {
    if (typeof opts === 'function') return this.get(index, null, opts)
    if (this.closed) return queueMicrotask(() => cb(new Error('the store is closed')))
    const buf = this.chunks.get(index)
    if (!buf) {
      const err = new Error('chunk not found')
      err.notFound = true
      return queueMicrotask(() => cb(err))
    }
    const offset = (opts && opts.offset) || 0
    const length = (opts && opts.length) || buf.length - offset
    queueMicrotask(() => cb(null, offset === 0 && length === buf.length ? buf : buf.subarray(offset, offset + length)))
  }

  close (cb = () => {}) {
    this.closed = true
    this.chunks.clear()
    queueMicrotask(() => cb(null))
  }

  destroy (cb) { this.close(cb) }
}

// ---------------------------------------------------------------------------------------------
// The panel

function bytes (n) {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let i = -1
  do { n /= 1024; i++ } while (n >= 1024 && i < units.length - 1)
  return `${n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`
}

function render () {
  const t = window.vidseed.torrent
  const starved = t && !t.done && state.fromPeers === 0 && state.webseeds.length > 0 &&
    state.webseeds.every(ws => ws.status === 'stalled')
  const phase = state.error
    ? `failed — ${state.error}`
    : starved ? `${state.phase} — stalled: no WebSeed sends data (see below) and no peer has` : state.phase
  $('phase').textContent = phase
  $('phase').className = state.error || starved ? 'bad' : ''
  $('progress').textContent = t ? `${(t.progress * 100).toFixed(1)} % of ${bytes(t.length)}` : '—'
  $('peers').textContent = t ? String(t.wires.filter(w => w.type !== 'webSeed').length) : '0'
  $('down').textContent = t ? `${bytes(t.downloadSpeed)}/s` : '—'
  $('up').textContent = t ? `${bytes(t.uploadSpeed)}/s` : '—'
  $('from-webseeds').textContent = bytes(state.fromWebSeeds)
  $('from-peers').textContent = bytes(state.fromPeers)
  $('uploaded').textContent = bytes(state.uploaded)
  $('first-frame').textContent = state.firstFrameMs === null ? '—' : `${Math.round(state.firstFrameMs)} ms`
  const rows = state.webseeds.map(ws => {
    const tr = document.createElement('tr')
    tr.className = ws.status === 'stalled' ? 'bad' : ''
    for (const text of [ws.label, ws.url, bytes(ws.bytes), ws.problem ? `${ws.status}: ${ws.problem}` : ws.status]) {
      const td = document.createElement('td')
      td.textContent = text
      tr.append(td)
    }
    return tr
  })
  $('webseeds').replaceChildren(...rows)
}

// ---------------------------------------------------------------------------------------------
// Playback

async function streamingServer (client) {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return false
  const reg = await navigator.serviceWorker.register('/webtorrent-sw.js', { scope: '/' })
  const worker = reg.active || reg.waiting || reg.installing
  if (worker && worker.state !== 'activated') {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the service worker did not activate within 10 s')), 10000)
      const check = () => {
        if (worker.state === 'activated') { clearTimeout(timer); resolve() }
        if (worker.state === 'redundant') { clearTimeout(timer); reject(new Error('the service worker failed to install')) }
      }
      worker.addEventListener('statechange', check)
      check()
    })
  }
  client.createServer({ controller: reg })
  return true
}

function watchFirstFrame () {
  const mark = () => { state.firstFrameMs ??= performance.now() }
  if ('requestVideoFrameCallback' in player) player.requestVideoFrameCallback(mark)
  else player.addEventListener('playing', mark, { once: true })
}

function torrentDone () {
  return !!(window.vidseed.torrent && window.vidseed.torrent.done)
}

async function play () {
  try {
    await player.play()
  } catch (err) {
    if (err.name !== 'NotAllowedError') throw err
    // Autoplay with sound needs a gesture: start muted, the viewer can unmute.
    player.muted = true
    try {
      await player.play()
    } catch (again) {
      if (again.name !== 'NotAllowedError') throw again
      // This browser plays nothing by itself: the viewer starts it.
      if (!torrentDone()) state.phase = 'ready — press play'
    }
  }
}

async function start () {
  await webseedIds
  const client = new WebTorrent({ tracker: { rtcConfig: { iceServers: video.iceServers || [] } } })
  window.vidseed.client = client
  client.on('error', err => fail('WebTorrent', err))
  state.streaming = await streamingServer(client).catch(err => {
    console.warn('no streaming through the service worker:', err)
    return false
  })
  state.phase = 'fetching the torrent'
  render()
  const inMemory = video.size <= MEMORY_STORE_MAX
  const torrent = client.add(video.torrentUrl, inMemory ? { store: MemoryStore, storeCacheSlots: 0 } : {})
  window.vidseed.torrent = torrent
  torrent.on('wire', trackWire)
  torrent.on('warning', err => console.warn('WebTorrent:', err.message || err))
  torrent.on('error', err => fail('torrent', err))
  torrent.on('done', () => {
    state.doneMs = performance.now()
    state.phase = 'downloaded — seeding to other viewers'
    render()
  })
  torrent.once('ready', () => onReady(torrent).catch(err => fail('playback', err)))
}

async function onReady (torrent) {
  state.metadataMs = performance.now()
  const file = torrent.files.reduce((a, b) => (b.length > a.length ? b : a))
  window.vidseed.sha256 = async () => {
    const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer())
    return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')
  }
  watchFirstFrame()
  if (state.streaming) {
    state.phase = 'streaming'
    file.streamTo(player)
  } else {
    // No service worker (a page over plain http on a remote host): play once downloaded.
    state.phase = 'downloading (streaming needs https or localhost)'
    await new Promise(resolve => (torrent.done ? resolve() : torrent.once('done', resolve)))
    player.src = URL.createObjectURL(await file.blob())
  }
  render()
  await play()
}

player.addEventListener('error', () => fail('player', player.error ? player.error.message || `media error ${player.error.code}` : 'media error'))
setInterval(() => {
  checkWebSeeds(window.vidseed.torrent)
  render()
}, PANEL_EVERY_MS)
render()
start().catch(err => fail('start', err))
