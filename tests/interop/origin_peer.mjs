// A PeerTube-like follower of our account and channel, built from PeerTube's own libraries
// (@peertube/http-signature, jsonld 8.3 as PeerTube canonicalises): it follows the account and
// the channel (Follows signed as PeerTube signs them), then checks every activity our instance
// delivers to it — the HTTP Signature with the key of the actor named by keyId (fetched from
// our actor document), the Digest, and the RsaSignature2017 with jsonld in safe mode — until it
// has an Accept from both, a Create and an Announce, or 40 s pass. Prints one JSON object.
// Usage: node origin_peer.mjs http://HOST:PORT ACCOUNT_URL CHANNEL_URL
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import httpSignature from '@peertube/http-signature';
import jsonld from 'jsonld';

const [target, accountUrl, channelUrl] = process.argv.slice(2);
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
});

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
async function ldVerify(doc, publicKeyPem) {
  const { signature, ...document } = doc;
  const options = {
    '@context': ['https://w3id.org/security/v1', { RsaSignature2017: 'https://w3id.org/security#RsaSignature2017' }],
    creator: signature.creator, created: signature.created,
  };
  const norm = (d) => jsonld.normalize(d, { algorithm: 'URDNA2015', format: 'application/n-quads', safe: true, documentLoader });
  const toSign = sha256hex(await norm(options)) + sha256hex(await norm(document));
  return crypto.createVerify('RSA-SHA256').update(toSign).verify(publicKeyPem, signature.signatureValue, 'base64');
}

const keys = new Map();
async function keyOf(actorUrl) {
  if (!keys.has(actorUrl)) {
    const r = await fetch(actorUrl, { headers: { accept: 'application/activity+json' } });
    keys.set(actorUrl, (await r.json()).publicKey.publicKeyPem);
  }
  return keys.get(actorUrl);
}

const received = [];
let done;
const finished = new Promise((r) => { done = r; });
const have = (type, actor) => received.some((x) => x.activity?.type === type && (!actor || x.activity?.actor === actor));
const complete = () => have('Accept', accountUrl) && have('Accept', channelUrl) && have('Create') && have('Announce', channelUrl);

const server = http.createServer(async (req, res) => {
  const base = `http://127.0.0.1:${server.address().port}`;
  const actor = `${base}/accounts/alice`;
  if (req.method === 'GET' && req.url === '/accounts/alice') {
    res.setHeader('content-type', 'application/activity+json');
    res.end(JSON.stringify({
      '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
      type: 'Person', id: actor, preferredUsername: 'alice', inbox: `${actor}/inbox`,
      endpoints: { sharedInbox: `${base}/inbox` },
      publicKey: { id: `${actor}#main-key`, owner: actor, publicKeyPem: publicKey },
    }));
    return;
  }
  if (req.method === 'POST' && (req.url === '/accounts/alice/inbox' || req.url === '/inbox')) {
    let body = '';
    req.on('data', (c) => { body += c; });
    await new Promise((r) => req.on('end', r));
    const entry = { inbox: req.url, digestOk: false, httpVerified: false };
    try {
      entry.digestOk = req.headers.digest === 'SHA-256=' + crypto.createHash('sha256').update(body).digest('base64');
      const parsed = httpSignature.parseRequest(req, {
        authorizationHeaderName: 'signature', headers: ['(request-target)', 'host', 'digest'], clockSkew: 1800,
      });
      entry.keyId = parsed.keyId;
      entry.activity = JSON.parse(body);
      entry.httpVerified = httpSignature.verifySignature(parsed, await keyOf(parsed.keyId));
      entry.ldVerified = await ldVerify(entry.activity, await keyOf(entry.activity.actor));
    } catch (e) {
      entry.error = String(e);
    }
    received.push(entry);
    res.statusCode = 204;
    res.end();
    if (complete()) done();
    return;
  }
  res.statusCode = 404;
  res.end();
});

async function follow(object, n) {
  const base = `http://127.0.0.1:${server.address().port}`;
  const actor = `${base}/accounts/alice`;
  const body = JSON.stringify({
    '@context': ['https://www.w3.org/ns/activitystreams', 'https://w3id.org/security/v1'],
    type: 'Follow', id: `${actor}/follows/${n}`, actor, object,
  });
  const url = new URL(`${object}/inbox`);
  const headers = {
    host: url.host, date: new Date().toUTCString(), 'content-type': 'application/activity+json',
    digest: 'SHA-256=' + crypto.createHash('sha256').update(body).digest('base64'),
  };
  const req = http.request({ method: 'POST', host: url.hostname, port: url.port, path: url.pathname, headers });
  httpSignature.signRequest(req, { key: privateKey, keyId: actor, authorizationHeaderName: 'Signature', headers: ['(request-target)', 'host', 'date', 'digest'] });
  const status = await new Promise((resolve, reject) => {
    req.on('response', (r) => { r.resume(); resolve(r.statusCode); });
    req.on('error', reject);
    req.end(body);
  });
  return status;
}

server.listen(0, '127.0.0.1', async () => {
  const followAccount = await follow(accountUrl, 1);
  const followChannel = await follow(channelUrl, 2);
  // Told on stdout so that the test publishes a video now.
  process.stderr.write('followed\n');
  const timer = setTimeout(done, 40000);
  await finished;
  clearTimeout(timer);
  server.close();
  process.stdout.write(JSON.stringify({ followAccount, followChannel, received }));
  process.exit(0);
});
