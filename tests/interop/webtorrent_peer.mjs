// Interop peer for vidseed's tests: the real WebTorrent libraries read what vidseed publishes.
//   node webtorrent_peer.mjs parse TORRENT_URL MAGNET_URI   → JSON of what parse-torrent reads
//   node webtorrent_peer.mjs download TORRENT_URL           → JSON with the SHA-1 of the bytes
//                                                             WebTorrent fetched from the WebSeed
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import parseTorrent from 'parse-torrent'
import WebTorrent from 'webtorrent'

const [mode, torrentUrl, magnet] = process.argv.slice(2)

async function fetchTorrent (url) {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`torrent fetch: HTTP ${res.status}`)
  return Buffer.from(await res.arrayBuffer())
}

async function parse () {
  const t = await parseTorrent(await fetchTorrent(torrentUrl))
  const m = await parseTorrent(magnet)
  console.log(JSON.stringify({
    torrent: {
      infoHash: t.infoHash,
      name: t.name,
      length: t.length,
      pieceLength: t.pieceLength,
      lastPieceLength: t.lastPieceLength,
      pieces: t.pieces.length,
      urlList: t.urlList,
      announce: t.announce
    },
    magnet: {
      infoHash: m.infoHash,
      name: m.name,
      announce: m.announce,
      urlList: m.urlList,
      xs: m.xs
    }
  }))
}

async function download () {
  const buf = await fetchTorrent(torrentUrl)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vidseed-wt-'))
  const client = new WebTorrent({ dht: false, lsd: false, tracker: false, utp: false, natUpnp: false, natPmp: false, webSeeds: true })
  const timer = setTimeout(() => { console.error('timed out'); process.exit(2) }, 90_000)
  client.on('error', (e) => { console.error('client error', e); process.exit(3) })
  const started = Date.now()
  client.add(buf, { path: dir }, (torrent) => {
    torrent.on('error', (e) => { console.error('torrent error', e); process.exit(4) })
    const finish = async () => {
      const file = torrent.files[0]
      const bytes = Buffer.from(await file.arrayBuffer())
      const sha1 = crypto.createHash('sha1').update(bytes).digest('hex')
      const webSeedWires = torrent.wires.filter((w) => w.type === 'webSeed').length
      console.log(JSON.stringify({
        sha1,
        length: bytes.length,
        downloaded: torrent.downloaded,
        webSeedWires,
        seconds: (Date.now() - started) / 1000
      }))
      clearTimeout(timer)
      client.destroy(() => { fs.rmSync(dir, { recursive: true, force: true }); process.exit(0) })
    }
    if (torrent.done) finish()
    else torrent.on('done', finish)
  })
}

try {
  if (mode === 'parse') await parse()
  else if (mode === 'download') await download()
  else throw new Error(`unknown mode ${mode}`)
} catch (e) {
  console.error(e)
  process.exit(1)
}
