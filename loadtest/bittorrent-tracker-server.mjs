// bittorrent-tracker-server.mjs: the npm `bittorrent-tracker` server, WebSocket only, for
// tracker-vs-others.sh.
//
//   node loadtest/bittorrent-tracker-server.mjs PORT [HOST] [--tls CERT.pem KEY.pem]
//
// With --tls it serves wss:// from an in-process https server (how a Node tracker without a
// reverse proxy runs TLS): the WebSocket server is the package's own, fed the upgrades.
// The package is the one tests/interop installs (`npm ci --ignore-scripts --prefix tests/interop`).
// ES modules ignore NODE_PATH, so it is imported by a path relative to this file; set
// BITTORRENT_TRACKER_DIR to use another copy of the package. It accepts the upgrade on any path
// (so ws://HOST:PORT/tracker/socket works), tracks every info-hash, and prints "listening PORT"
// once it accepts connections. SIGTERM/SIGINT close it; SIGUSR2 prints its memory use (after a
// garbage collection when started with `node --expose-gc`).

import { readFileSync } from 'node:fs'
import https from 'node:https'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const pkgDir = process.env.BITTORRENT_TRACKER_DIR ||
  path.join(here, '..', 'tests', 'interop', 'node_modules', 'bittorrent-tracker')
const { Server } = await import(pathToFileURL(path.join(pkgDir, 'index.js')).href)

const args = process.argv.slice(2)
const tlsAt = args.indexOf('--tls')
const tls = tlsAt >= 0 ? { cert: readFileSync(args[tlsAt + 1]), key: readFileSync(args[tlsAt + 2]) } : null
if (tlsAt >= 0) args.splice(tlsAt, 3)
const port = Number(args[0])
const host = args[1] || '127.0.0.1'
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node bittorrent-tracker-server.mjs PORT [HOST] [--tls CERT.pem KEY.pem]')
  process.exit(2)
}

const server = new Server({ udp: false, http: false, ws: tls ? { noServer: true } : true, stats: false })
let warnings = 0
server.on('error', err => {
  console.error(`error: ${err.message}`)
  process.exit(1)
})
// Warnings (unknown swarm or peer for an answer, …) are counted, not printed one by one.
server.on('warning', () => { warnings++ })
let front = null
if (tls) {
  front = https.createServer(tls, (req, res) => { res.statusCode = 404; res.end('404 Not Found') })
  front.on('upgrade', (req, socket, head) => {
    server.ws.handleUpgrade(req, socket, head, ws => server.ws.emit('connection', ws, req))
  })
  front.on('error', err => {
    console.error(`error: ${err.message}`)
    process.exit(1)
  })
  front.listen(port, host, () => console.log(`listening ${front.address().port}`))
} else {
  server.on('listening', () => {
    console.log(`listening ${server.ws.address().port}`)
  })
  server.listen(port, host)
}

function stop () {
  console.log(`stopping (${warnings} warnings)`)
  if (front) front.close()
  server.close(() => process.exit(0))
  setTimeout(() => process.exit(0), 2000).unref()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
// SIGUSR2: collect garbage (if node runs with --expose-gc) and print the memory use, so that a
// memory measurement counts live objects rather than garbage not yet collected.
process.on('SIGUSR2', () => {
  if (typeof globalThis.gc === 'function') globalThis.gc()
  const m = process.memoryUsage()
  console.log(`memory rss=${m.rss} heapUsed=${m.heapUsed} external=${m.external} gc=${typeof globalThis.gc === 'function'}`)
})
