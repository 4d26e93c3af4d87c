// An independent relying party using what a FAPI 2.0 or a generic OIDC client uses, by configuration
// alone, with panva's openid-client (OpenID Certified): pushed authorization requests with
// private_key_jwt and DPoP-bound tokens, a signed request object (JAR) pushed, response_mode=form_post
// received by the client's own endpoint, and back-channel logout tokens received and validated (with
// `jose`, which openid-client is built on: openid-client does not validate logout tokens itself). All
// protocol work is the libraries'; `browser.mjs` plays the person.
//
// Environment:
//   HUB_ISSUER            the hub's issuer
//   CLIENT_ID             the client registered in the hub's registry
//   CAPABILITY            fapi2-par-dpop | fapi2-jar-par | form-post | backchannel-logout
//   LISTEN_PORT           the port of this client's own endpoints on 127.0.0.1: /callback (its redirect URI),
//                         /signed-out (its post_logout_redirect_uri), /backchannel (its backchannel_logout_uri)
//   PRIVATE_KEY_PEM_FILE  the client's PKCS#8 P-256 key (private_key_jwt, JAR), except for form-post
//   CLIENT_SECRET         the client's secret (client_secret_basic), for form-post
//   PROVIDER              optional, the identity provider to choose (default stub-a)
//
// Prints one JSON line, {"ok":true,...} and exits 0, or {"ok":false,...} and exits 1.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import * as client from 'openid-client';
import * as jose from 'jose';
import { request, signInAsPerson, trail, TIMEOUT_MS } from './browser.mjs';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

async function importPrivateKey(path) {
  const pem = await readFile(path, 'utf8');
  const match = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (!match) throw new Error(`${path} is not a PKCS#8 PEM private key`);
  const der = Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
  return crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
}

// ---------------------------------------------------------------------------------------------------
// The client's own endpoints: what a service runs at its redirect URI and back-channel logout URI.
// ---------------------------------------------------------------------------------------------------

const base = `http://127.0.0.1:${env('LISTEN_PORT')}`;
const redirectUri = `${base}/callback`;
const postLogoutRedirectUri = `${base}/signed-out`;
const handlers = new Map();

function waitFor(name) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nothing arrived at ${name} in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    handlers.set(name, async (req, body) => {
      clearTimeout(timer);
      try {
        const result = await handlers.get(`${name}:handle`)(req, body);
        resolve(result);
        return [200, 'ok'];
      } catch (error) {
        reject(error);
        return [400, 'refused'];
      }
    });
  });
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const path = new URL(req.url, base).pathname;
    const handler = handlers.get(path);
    const [status, text] = handler ? await handler(req, Buffer.concat(chunks)) : [404, 'not found'];
    res.writeHead(status, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end(text);
  });
});
await new Promise((resolve) => server.listen(Number(env('LISTEN_PORT')), '127.0.0.1', resolve));

// ---------------------------------------------------------------------------------------------------
// The relying party.
// ---------------------------------------------------------------------------------------------------

const issuer = new URL(env('HUB_ISSUER'));
const clientId = env('CLIENT_ID');
const provider = process.env.PROVIDER || 'stub-a';
const insecure = { execute: [client.allowInsecureRequests], timeout: TIMEOUT_MS / 1000 };

async function pkce() {
  const codeVerifier = client.randomPKCECodeVerifier();
  return { codeVerifier, codeChallenge: await client.calculatePKCECodeChallenge(codeVerifier) };
}

/** PAR with private_key_jwt and DPoP (and, with `jar`, a signed request object pushed). */
async function fapi2(jar) {
  const key = await importPrivateKey(env('PRIVATE_KEY_PEM_FILE'));
  const config = await client.discovery(
    issuer,
    clientId,
    {
      redirect_uris: [redirectUri],
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
      id_token_signed_response_alg: 'ES256',
    },
    client.PrivateKeyJwt(key),
    insecure,
  );
  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const { codeVerifier, codeChallenge } = await pkce();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters = {
    redirect_uri: redirectUri,
    scope: 'openid email',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  let pushed = parameters;
  if (jar) {
    pushed = (await client.buildAuthorizationUrlWithJAR(config, parameters, key)).searchParams;
  }
  const authorizationUrl = await client.buildAuthorizationUrlWithPAR(config, pushed, { DPoP });
  const callbackUrl = await signInAsPerson(authorizationUrl, redirectUri, provider);
  const tokens = await client.authorizationCodeGrant(
    config,
    callbackUrl,
    { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    undefined,
    { DPoP },
  );
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP });
  // The control: the same token without its key is refused (it is sender-constrained).
  let withoutProof;
  try {
    await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    withoutProof = 'accepted';
  } catch (error) {
    withoutProof = error.status ?? error.code ?? error.message;
  }
  return {
    authorization_url_parameters: [...authorizationUrl.searchParams.keys()],
    request_object_pushed: jar,
    token_type: tokens.token_type,
    sub: claims.sub,
    vot: claims.vot,
    userinfo,
    without_proof: withoutProof,
  };
}

/** An oidc-basic client with client_secret_basic whose response comes by form_post to its endpoint. */
async function formPost() {
  const config = await client.discovery(
    issuer,
    clientId,
    { redirect_uris: [redirectUri], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' },
    client.ClientSecretBasic(env('CLIENT_SECRET')),
    insecure,
  );
  const { codeVerifier, codeChallenge } = await pkce();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    response_mode: 'form_post',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  handlers.set('/callback:handle', async (req, body) => {
    // What the service's endpoint received, handed to the library as the Fetch API Request it is.
    const received = new Request(redirectUri, {
      method: req.method,
      headers: { 'content-type': req.headers['content-type'] ?? '' },
      body: req.method === 'POST' ? body : undefined,
    });
    const tokens = await client.authorizationCodeGrant(config, received, {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    return { method: req.method, content_type: req.headers['content-type'], tokens };
  });
  const arrived = waitFor('/callback');
  const back = await signInAsPerson(authorizationUrl, redirectUri, provider);
  if (!back.posted) throw new Error(`the hub redirected instead of posting: ${back}`);
  const { method, content_type: contentType, tokens } = await arrived;
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  return { received_method: method, received_content_type: contentType, sub: claims.sub, userinfo };
}

/** Signs in, logs out at the hub, and validates the logout token the hub posts to this client. */
async function backchannelLogout() {
  const key = await importPrivateKey(env('PRIVATE_KEY_PEM_FILE'));
  const config = await client.discovery(
    issuer,
    clientId,
    { redirect_uris: [redirectUri], response_types: ['code'], token_endpoint_auth_method: 'private_key_jwt' },
    client.PrivateKeyJwt(key),
    insecure,
  );
  const { codeVerifier, codeChallenge } = await pkce();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callbackUrl = await signInAsPerson(authorizationUrl, redirectUri, provider);
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const idClaims = tokens.claims();

  // OIDC Back-Channel Logout 1.0 §2.6, with jose: signature by the issuer's JWKS, iss, aud, iat, typ,
  // the event, sub or sid, no nonce.
  const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
  handlers.set('/backchannel:handle', async (req, body) => {
    if (req.method !== 'POST') throw new Error(`back-channel logout by ${req.method}`);
    const form = new URLSearchParams(body.toString());
    const token = form.get('logout_token');
    if (!token) throw new Error('no logout_token');
    const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
      issuer: config.serverMetadata().issuer,
      audience: clientId,
      algorithms: ['ES256', 'RS256'],
      typ: 'logout+jwt',
      maxTokenAge: '2 minutes',
    });
    const event = payload.events?.['http://schemas.openid.net/event/backchannel-logout'];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new Error('no logout event');
    if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid');
    if ('nonce' in payload) throw new Error('a nonce in a logout token');
    if (!payload.jti) throw new Error('no jti');
    return { payload, typ: protectedHeader.typ, content_type: req.headers['content-type'] };
  });
  const arrived = waitFor('/backchannel');
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: postLogoutRedirectUri,
    state: 'bye',
  });
  const front = await request('GET', endSession.href);
  const logout = await arrived;
  return {
    front_channel: front.location,
    logout_token: logout.payload,
    logout_typ: logout.typ,
    backchannel_content_type: logout.content_type,
    id_token_sid: idClaims.sid,
    id_token_sub: idClaims.sub,
  };
}

async function main() {
  switch (env('CAPABILITY')) {
    case 'fapi2-par-dpop':
      return fapi2(false);
    case 'fapi2-jar-par':
      return fapi2(true);
    case 'form-post':
      return formPost();
    case 'backchannel-logout':
      return backchannelLogout();
    default:
      throw new Error(`unknown CAPABILITY ${process.env.CAPABILITY}`);
  }
}

function describe(value, depth = 0) {
  if (value === undefined || value === null || depth > 3) return value;
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      code: value.code,
      error: value.error,
      error_description: value.error_description,
      status: value.status,
      cause: describe(value.cause, depth + 1),
    };
  }
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v, depth + 1)]));
  }
  return value;
}

try {
  const result = await main();
  process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`);
  process.exit(0);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: describe(error), trail })}\n`);
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
}
