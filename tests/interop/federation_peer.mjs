// A remote "instance" built from PeerTube's own signature library (@peertube/http-signature):
// it serves an Application actor with its public key, checks the signature of every fetch our
// instance makes of it (as PeerTube checks signed fetches), and posts activities to our inbox,
// signed the way PeerTube signs them — then tampered, stale, wrongly keyed and unsigned ones.
// Prints one JSON object with every outcome. Usage: node federation_peer.mjs http://HOST:PORT
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import httpSignature from '@peertube/http-signature';
import jsonld from 'jsonld';

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

// RsaSignature2017 the way PeerTube computes it (jsonld 8.3 URDNA2015, safe mode), offline: the
// contexts come from the copies bundled with vidseed (no network here).
const contextDir = new URL('../../control-plane/src/activitypub/contexts/', import.meta.url);
const contexts = {
  'https://www.w3.org/ns/activitystreams': 'activitystreams.jsonld',
  'https://w3id.org/security/v1': 'security-v1.jsonld',
  'https://w3id.org/identity/v1': 'identity-v1.jsonld',
};
const documentLoader = async (url) => {
  const file = contexts[url];
  if (!file) throw new Error(`context not available offline: ${url}`);
  return { contextUrl: null, documentUrl: url, document: JSON.parse(fs.readFileSync(new URL(file, contextDir))) };
};
const sha256hex = (s) => crypto.createHash('sha256').update(s).digest('hex');
async function ldHash(doc, creator, created) {
  const options = {
    '@context': ['https://w3id.org/security/v1', { RsaSignature2017: 'https://w3id.org/security#RsaSignature2017' }],
    creator, created,
  };
  const { signature, ...document } = doc;
  const norm = (d) => jsonld.normalize(d, { algorithm: 'URDNA2015', format: 'application/n-quads', safe: true, documentLoader });
  return sha256hex(await norm(options)) + sha256hex(await norm(document));
}
async function ldVerify(doc, publicKeyPem) {
  const sig = doc.signature;
  const toSign = await ldHash(doc, sig.creator, sig.created);
  return crypto.createVerify('RSA-SHA256').update(toSign).verify(publicKeyPem, sig.signatureValue, 'base64');
}
async function ldSign(doc, key, creator) {
  const created = new Date().toISOString();
  const toSign = await ldHash(doc, creator, created);
  const signatureValue = crypto.createSign('RSA-SHA256').update(toSign).sign(key, 'base64');
  return { ...doc, signature: { type: 'RsaSignature2017', creator, created, signatureValue } };
}

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
  if (req.method === 'POST' && (req.url === '/accounts/peertube/inbox' || req.url === '/accounts/second/inbox')) {
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
      entry.ldVerified = await ldVerify(entry.activity, await vidseedKey());
    } catch (e) {
      entry.error = String(e);
    }
    received.push(entry);
    res.statusCode = 204;
    res.end();
    return;
  }
  if (req.method === 'GET' && req.url === '/accounts/second') {
    // A second actor of this instance, whose activity the first one forwards.
    const second = `${base}/accounts/second`;
    res.setHeader('content-type', 'application/activity+json');
    res.end(JSON.stringify({
      '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
      type: 'Person', id: second, preferredUsername: 'second', inbox: `${second}/inbox`,
      publicKey: { id: `${second}#main-key`, owner: second, publicKeyPem: other.publicKey },
    }));
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
  out.duplicate = await post('/accounts/peertube/inbox', follow, { keyId: actor });
  out.sharedInbox = await post('/inbox', follow.replace('/follows/1', '/follows/2'), { keyId: actor });
  out.keyIdWithFragment = await post('/inbox', follow.replace('/follows/1', '/follows/3'), { keyId: `${actor}#main-key` });
  out.acctKeyId = await post('/inbox', follow.replace('/follows/1', '/follows/4'), { keyId: `acct:peertube@127.0.0.1:${server.address().port}` });
  out.tamperedBody = await post('/inbox', follow, { keyId: actor, tamper: true });
  out.wrongKey = await post('/inbox', follow, { keyId: actor, key: other.privateKey });
  out.staleDate = await post('/inbox', follow, { keyId: actor, date: new Date(Date.now() - 3600 * 1000).toUTCString() });
  out.unsigned = await post('/inbox', follow, { keyId: actor, sign: false });
  out.digestNotSigned = await post('/inbox', follow, { keyId: actor, headers: ['(request-target)', 'host', 'date'] });
  out.notJson = await post('/inbox', 'not json', { keyId: actor });
  // A forwarded activity: actor "second", HTTP-signed by the first actor, LD-signed by second.
  const second = `${base}/accounts/second`;
  const announce = {
    '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1', { RsaSignature2017: 'https://w3id.org/security#RsaSignature2017' }],
    type: 'Announce', id: `${second}/announces/1`, actor: second, object: `${second}/notes/1`,
    to: ['https://www.w3.org/ns/activitystreams#Public'],
  };
  const signedAnnounce = await ldSign(announce, other.privateKey, second);
  out.forwardedSigned = await post('/inbox', JSON.stringify(signedAnnounce), { keyId: actor });
  out.forwardedTampered = await post('/inbox', JSON.stringify({ ...signedAnnounce, object: `${second}/notes/2` }), { keyId: actor });
  // Out of order: the Undo of second's Follow 9 arrives before that Follow; Follow 10 is fresh.
  const followOf = (n) => JSON.stringify({
    '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
    type: 'Follow', id: `${second}/follows/${n}`, actor: second, object: `${target}/accounts/peertube`,
  });
  const undo9 = JSON.stringify({
    '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
    type: 'Undo', id: `${second}/follows/9/undo`, actor: second, object: JSON.parse(followOf(9)),
  });
  out.undoFirst = await post('/inbox', undo9, { keyId: second, key: other.privateKey });
  out.followAfterUndo = await post('/inbox', followOf(9), { keyId: second, key: other.privateKey });
  out.followFresh = await post('/inbox', followOf(10), { keyId: second, key: other.privateKey });
  out.forwarded = await post('/inbox', follow.replace(`"actor":"${actor}"`, '"actor":"http://127.0.0.1:1/accounts/peertube"'), { keyId: actor });
  out.fetches = fetches;
  // vidseed answers the accepted Follows with Accepts delivered to this actor's inbox.
  const accepted = (suffix) => received.some((r) => r.activity && r.activity.type === 'Accept' && String(r.activity.object.id).endsWith(suffix));
  for (let i = 0; i < 100 && !(accepted('/peertube/follows/1') && accepted('/second/follows/10')); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1000)); // let any (wrong) second Accept arrive
  out.received = received;
  console.log(JSON.stringify(out));
  server.close();
  process.exit(0);
});
