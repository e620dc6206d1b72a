// vidseed's service worker for the watch pages: it answers the `<video>` element's requests for
// `<scope>webtorrent/<infoHash>/<file>` from the WebTorrent client of the page that asked, so
// playback streams and seeks while the torrent downloads. It speaks the message protocol of
// WebTorrent's browser server (the page side lives in the WebTorrent bundle): a request goes to
// the page as `{ type: 'webtorrent', url, method, headers, scope, destination }` with a
// MessagePort; the page answers `{ status, headers, body }`, where body 'STREAM' means "pull the
// chunks": post `true` for the next chunk (a falsy answer ends the stream), `false` to stop.
//
// Unlike a broadcast to every open page (where the first page to answer wins, and a page that
// lacks the torrent answers 404), the request goes to the page that made it.

const PULL_TIMEOUT_MS = 5000
// Whether this browser tells a service worker when a streamed response is cancelled; the page
// checks by fetching `webtorrent/cancel/` and cancelling the body. Without it, a pull that gets no
// answer in time ends the stream instead of waiting forever.
let cancelSupported = false

self.addEventListener('install', () => { self.skipWaiting() })
self.addEventListener('activate', event => { event.waitUntil(self.clients.claim()) })

self.addEventListener('fetch', event => {
  const base = self.registration.scope + 'webtorrent/'
  const url = event.request.url
  if (!url.startsWith(base)) return
  if (url.startsWith(base + 'keepalive/')) return event.respondWith(new Response())
  if (url.startsWith(base + 'cancel/')) {
    return event.respondWith(new Response(new ReadableStream({ cancel () { cancelSupported = true } })))
  }
  event.respondWith(serve(event))
})

/** The pages that may answer: the one that asked, else (a request without one) every page. */
async function pagesFor (event) {
  const asker = event.clientId && await self.clients.get(event.clientId)
  if (asker) return [asker]
  return self.clients.matchAll({ type: 'window', includeUncontrolled: true })
}

async function serve (event) {
  const { url, method, headers, destination } = event.request
  const pages = await pagesFor(event)
  if (pages.length === 0) return new Response('no page to answer this request', { status: 503 })
  const [head, port] = await new Promise(resolve => {
    for (const page of pages) {
      const { port1, port2 } = new MessageChannel()
      port1.onmessage = ({ data }) => resolve([data, port1])
      page.postMessage({
        type: 'webtorrent',
        url,
        method,
        headers: Object.fromEntries(headers.entries()),
        scope: self.registration.scope,
        destination
      }, [port2])
    }
  })
  let timer = null
  const finish = () => {
    clearTimeout(timer)
    port.postMessage(false)
    port.onmessage = null
  }
  if (head.body !== 'STREAM') {
    finish()
    return new Response(head.body, head)
  }
  const body = new ReadableStream({
    pull (controller) {
      return new Promise(resolve => {
        port.onmessage = ({ data }) => {
          if (data) {
            controller.enqueue(data)
          } else {
            finish()
            controller.close()
          }
          resolve()
        }
        if (!cancelSupported && destination !== 'document') {
          clearTimeout(timer)
          timer = setTimeout(() => { finish(); controller.close(); resolve() }, PULL_TIMEOUT_MS)
        }
        port.postMessage(true)
      })
    },
    cancel () { finish() }
  })
  return new Response(body, head)
}
