// Differential test: the same scripted WebTorrent tracker conversation played against the npm
// bittorrent-tracker server (what PeerTube runs) and against vidseed; replies must agree field by
// field, except where vidseed is documented as stricter (error texts).
//   node tracker_diff.mjs VIDSEED_WS_URL INFO_HASH_HEX
import { Server } from 'bittorrent-tracker'
import WebSocket from 'ws'

const [vidseedUrl, ihHex] = process.argv.slice(2)
const bin = (hex) => Buffer.from(hex, 'hex').toString('latin1')
const id = (n) => String.fromCharCode(n).repeat(20)
const IH = bin(ihHex)
const offer = (n) => ({ offer: { type: 'offer', sdp: `v=0 offer ${n}` }, offer_id: id(100 + n) })

function client (url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const inbox = []
    let waiter = null
    ws.on('message', (data) => {
      inbox.push(JSON.parse(data.toString()))
      if (waiter) waiter()
    })
    ws.on('open', () => resolve({
      ws,
      send: (m) => ws.send(JSON.stringify(m)),
      // Waits for n messages (or 3 s), then returns and clears them.
      take: (n) => new Promise((res) => {
        const done = () => { if (inbox.length >= n) { waiter = null; clearTimeout(t); res(inbox.splice(0)) } }
        const t = setTimeout(() => { waiter = null; res(inbox.splice(0)) }, 3000)
        waiter = done
        done()
      }),
      // Returns whatever arrived within a short quiet period (to prove nothing extra came).
      drain: () => new Promise((res) => setTimeout(() => res(inbox.splice(0)), 300))
    }))
    ws.on('error', reject)
  })
}

async function conversation (url) {
  const log = []
  const a = await client(url)
  const b = await client(url)
  a.send({ action: 'announce', info_hash: IH, peer_id: id(1), numwant: 5, uploaded: 0, downloaded: 0, left: 100, event: 'started', offers: [offer(1)] })
  log.push(['A started', await a.take(1)])
  b.send({ action: 'announce', info_hash: IH, peer_id: id(2), numwant: 5, uploaded: 0, downloaded: 0, left: 0, event: 'started', offers: [offer(2), offer(3)] })
  log.push(['B started (to B)', await b.take(1)])
  const offered = await a.take(1)
  log.push(['B started (to A)', offered])
  const offerId = offered[0] && offered[0].offer_id
  a.send({ action: 'announce', info_hash: IH, peer_id: id(1), to_peer_id: id(2), answer: { type: 'answer', sdp: 'v=0 answer' }, offer_id: offerId })
  log.push(['A answers (to B)', await b.take(1)])
  log.push(['A answers (to A)', await a.drain()])
  a.send({ action: 'scrape', info_hash: IH })
  log.push(['A scrapes', await a.take(1)])
  a.send({ action: 'scrape', info_hash: [IH] })
  log.push(['A scrapes a list', await a.take(1)])
  a.send({ action: 'announce', info_hash: IH, peer_id: id(1), left: 0, event: 'completed', uploaded: 0, downloaded: 100 })
  log.push(['A completed', await a.take(1)])
  b.send({ action: 'announce', info_hash: IH, peer_id: id(2), left: 0, event: 'stopped', uploaded: 0, downloaded: 0 })
  log.push(['B stopped', await b.take(1)])
  a.send({ action: 'announce', info_hash: IH, peer_id: id(1), left: 0, event: 'bogus' })
  log.push(['A bad event', await a.take(1)])
  b.send({ action: 'announce', info_hash: IH, peer_id: id(2), left: 50, event: 'started' })
  log.push(['B again', await b.take(1)])
  b.ws.close()
  // Asked until B is gone (at most 10 s): when a server notices a closed socket is its own
  // timing; what it counts then is what is compared.
  let afterClose = []
  for (let i = 0; i < 100; i++) {
    a.send({ action: 'scrape', info_hash: IH })
    afterClose = await a.take(1)
    const counts = afterClose[0] && afterClose[0].files && Object.values(afterClose[0].files)[0]
    if (counts && counts.complete + counts.incomplete === 1) break
    await new Promise((res) => setTimeout(res, 100))
  }
  log.push(['after B closed', afterClose])
  a.ws.close()
  return log
}

// Field-by-field view of a message (key order is not significant in JSON); `failure reason`
// texts differ by design, so only their presence counts.
function view (m) {
  const v = {}
  for (const [k, val] of Object.entries(m).sort(([x], [y]) => (x < y ? -1 : 1))) {
    if (k === 'failure reason') v[k] = typeof val
    else if (k === 'offer_id') v[k] = [id(102), id(103)].includes(val) ? 'one of B\'s offers' : val === id(101) ? 'A\'s offer' : val
    else v[k] = val
  }
  return v
}

const reference = new Server({ udp: false, http: false, ws: true, stats: false })
await new Promise((resolve) => reference.listen(0, '127.0.0.1', resolve))
const refUrl = `ws://127.0.0.1:${reference.ws.address().port}`
const want = await conversation(refUrl)
const got = await conversation(vidseedUrl)
reference.close()

let failures = 0
for (let i = 0; i < want.length; i++) {
  const [step, w] = want[i]
  const g = got[i][1]
  const a = JSON.stringify(w.map(view))
  const b = JSON.stringify(g.map(view))
  if (a !== b) {
    failures++
    console.log(`DIFF at "${step}":\n  bittorrent-tracker: ${a}\n  vidseed:            ${b}`)
  }
}
console.log(JSON.stringify({ steps: want.length, failures }))
process.exit(failures ? 1 : 0)
