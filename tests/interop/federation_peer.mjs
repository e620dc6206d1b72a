// A remote "instance" built from PeerTube's own signature library (@peertube/http-signature):
// it serves an Application actor with its public key, checks the signature of every fetch our
// instance makes of it (as PeerTube checks signed fetches), and posts activities to our inbox,
// signed the way PeerTube signs them — then tampered, stale, wrongly keyed and unsigned ones.
// Prints one JSON object with every outcome. Usage: node federation_peer.mjs http://HOST:PORT
import http from 'node:http';
import crypto from 'node:crypto';
import httpSignature from '@peertube/http-signature';

const target = process.argv[2];
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
});
const other = crypto.generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
});

const fetches = [];
const received = [];
let ourActorKey = null;

async function vidseedKey() {
  if (!ourActorKey) {
    const r = await fetch(`${target}/accounts/peertube`, { headers: { accept: 'application/activity+json' } });
    ourActorKey = (await r.json()).publicKey.publicKeyPem;
  }
  return ourActorKey;
}

const server = http.createServer(async (req, res) => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const actor = `${base}/accounts/peertube`;
  if (req.method === 'GET' && req.url === '/accounts/peertube') {
    // Check the signature of the fetch, as PeerTube does for signed GETs.
    let verified = false;
    let error = null;
    try {
      const parsed = httpSignature.parseRequest(req, {
        authorizationHeaderName: 'signature', headers: ['(request-target)', 'host', 'date'], clockSkew: 1800,
      });
      verified = httpSignature.verifySignature(parsed, await vidseedKey());
      fetches.push({ keyId: parsed.keyId, verified });
    } catch (e) {
      error = String(e);
      fetches.push({ verified: false, error });
    }
    res.setHeader('content-type', 'application/activity+json');
    res.end(JSON.stringify({
      '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
      type: 'Application', id: actor, preferredUsername: 'peertube', name: 'peertube',
      inbox: `${actor}/inbox`, outbox: `${actor}/outbox`, followers: `${actor}/followers`, following: `${actor}/following`,
      endpoints: { sharedInbox: `${base}/inbox` },
      publicKey: { id: `${actor}#main-key`, owner: actor, publicKeyPem: publicKey },
    }));
    return;
  }
  if (req.method === 'POST' && req.url === '/accounts/peertube/inbox') {
    // An activity our instance delivers: check it the way PeerTube's inbox does.
    let body = '';
    req.on('data', (c) => { body += c; });
    await new Promise((r) => req.on('end', r));
    const entry = { digestOk: false, httpVerified: false };
    try {
      entry.digestOk = req.headers.digest === 'SHA-256=' + crypto.createHash('sha256').update(body).digest('base64');
      const parsed = httpSignature.parseRequest(req, {
        authorizationHeaderName: 'signature', headers: ['(request-target)', 'host', 'digest'], clockSkew: 1800,
      });
      entry.keyId = parsed.keyId;
      entry.signedHeaders = parsed.params.headers.join(' ');
      entry.httpVerified = httpSignature.verifySignature(parsed, await vidseedKey());
      entry.activity = JSON.parse(body);
    } catch (e) {
      entry.error = String(e);
    }
    received.push(entry);
    res.statusCode = 204;
    res.end();
    return;
  }
  if (req.method === 'GET' && req.url.startsWith('/.well-known/webfinger')) {
    res.setHeader('content-type', 'application/jrd+json');
    res.end(JSON.stringify({
      subject: `acct:peertube@${server.address().address}:${server.address().port}`,
      links: [{ rel: 'self', type: 'application/activity+json', href: actor }],
    }));
    return;
  }
  res.statusCode = 404;
  res.end();
});

function post(path, bodyText, { key = privateKey, keyId, date, tamper, sign = true, headers = ['(request-target)', 'host', 'date', 'digest'] } = {}) {
  return new Promise((resolve) => {
    const url = new URL(path, target);
    const digest = 'SHA-256=' + crypto.createHash('sha256').update(bodyText).digest('base64');
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { 'content-type': 'application/activity+json', digest, date: date || new Date().toUTCString(), host: url.host },
    }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    if (sign) {
      httpSignature.signRequest(req, { key, keyId, algorithm: 'rsa-sha256', authorizationHeaderName: 'signature', headers });
    }
    req.end(tamper ? bodyText.replace('Follow', 'Folloq') : bodyText);
  });
}

server.listen(0, '127.0.0.1', async () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const actor = `${base}/accounts/peertube`;
  const follow = JSON.stringify({
    '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
    type: 'Follow', id: `${actor}/follows/1`, actor, object: `${target}/accounts/peertube`,
  });
  const out = {};
  out.valid = await post('/accounts/peertube/inbox', follow, { keyId: actor });
  out.sharedInbox = await post('/inbox', follow.replace('/follows/1', '/follows/2'), { keyId: actor });
  out.keyIdWithFragment = await post('/inbox', follow.replace('/follows/1', '/follows/3'), { keyId: `${actor}#main-key` });
  out.acctKeyId = await post('/inbox', follow.replace('/follows/1', '/follows/4'), { keyId: `acct:peertube@127.0.0.1:${server.address().port}` });
  out.tamperedBody = await post('/inbox', follow, { keyId: actor, tamper: true });
  out.wrongKey = await post('/inbox', follow, { keyId: actor, key: other.privateKey });
  out.staleDate = await post('/inbox', follow, { keyId: actor, date: new Date(Date.now() - 3600 * 1000).toUTCString() });
  out.unsigned = await post('/inbox', follow, { keyId: actor, sign: false });
  out.digestNotSigned = await post('/inbox', follow, { keyId: actor, headers: ['(request-target)', 'host', 'date'] });
  out.notJson = await post('/inbox', 'not json', { keyId: actor });
  out.forwarded = await post('/inbox', follow.replace(`"actor":"${actor}"`, '"actor":"http://127.0.0.1:1/accounts/peertube"'), { keyId: actor });
  out.fetches = fetches;
  // vidseed answers the accepted Follows with Accepts delivered to this actor's inbox.
  for (let i = 0; i < 100 && !received.some((r) => r.activity && r.activity.type === 'Accept'); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  out.received = received;
  console.log(JSON.stringify(out));
  server.close();
  process.exit(0);
});
