// An independent relying party signing in through the hub with panva's openid-client (OpenID Certified),
// registered with the hub through configuration only. All protocol work (discovery, PKCE, state, nonce,
// RFC 9207 `iss`, private_key_jwt, ID token validation against the JWKS, userinfo) is the library's; this
// script only plays the person's browser between the authorization URL and the redirect back.
//
// Environment:
//   HUB_ISSUER            the hub's issuer, e.g. http://127.0.0.1:8080
//   CLIENT_ID             the client id registered in the hub's client registry
//   REDIRECT_URI          a registered redirect URI (nothing needs to listen there)
//   PRIVATE_KEY_PEM_FILE  the client's PKCS#8 EC P-256 private key (PEM); its public key is registered
//   PROVIDER              optional, the identity provider to choose (default stub-a)
//
// Prints one JSON line: {"ok":true,"sub":...,"vot":...,"userinfo":{...}} and exits 0, or
// {"ok":false,...} and exits 1.

import { readFile } from 'node:fs/promises';
import * as client from 'openid-client';

const TIMEOUT_MS = 20_000;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

/** A PKCS#8 PEM private key as a non-extractable WebCrypto ECDSA P-256 signing key. */
async function importPrivateKey(path) {
  const pem = await readFile(path, 'utf8');
  const match = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  if (!match) throw new Error(`${path} is not a PKCS#8 PEM private key`);
  const der = Buffer.from(match[1].replace(/\s+/g, ''), 'base64');
  return crypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
}

// ---------------------------------------------------------------------------------------------------
// The browser: manual redirects, one cookie jar for 127.0.0.1 (a browser shares cookies across the ports
// of one host; the federation's `__Host-…; Secure` cookies are kept on loopback as browsers do), forms.
// ---------------------------------------------------------------------------------------------------

const jar = new Map();
const trail = [];

function keepCookies(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq < 1) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

async function request(method, url, form) {
  trail.push(`${method} ${url}`);
  const headers = { accept: 'text/html' };
  if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const response = await fetch(url, {
    method,
    headers,
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  keepCookies(response);
  const location = response.headers.get('location');
  return {
    url,
    status: response.status,
    location: location ? new URL(location, url).href : null,
    body: await response.text(),
  };
}

function decodeEntities(text) {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attributes(tag) {
  const attrs = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** The page's forms: action, method and the fields a browser would submit without changes. */
function forms(html) {
  const found = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(m[1]);
    const fields = [];
    for (const input of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributes(input[1]);
      const type = (a.type || 'text').toLowerCase();
      if (!a.name || 'disabled' in a) continue;
      if ((type === 'radio' || type === 'checkbox') && !('checked' in a)) continue;
      if (type === 'submit' || type === 'button' || type === 'image') continue;
      fields.push([a.name, a.value ?? '']);
    }
    found.push({ action: attrs.action ?? '', method: (attrs.method || 'get').toLowerCase(), fields });
  }
  return found;
}

/** Submits the form whose action matches `actionPattern`, with `set` overriding its fields. */
async function submit(page, actionPattern, set = {}) {
  const form = forms(page.body).find((f) => actionPattern.test(f.action));
  if (!form) {
    throw new Error(`no form with action ${actionPattern} on ${page.url} (HTTP ${page.status}):\n${page.body.slice(0, 2000)}`);
  }
  const fields = form.fields.filter(([name]) => !(name in set));
  for (const [name, value] of Object.entries(set)) fields.push([name, value]);
  const target = new URL(form.action, page.url);
  if (form.method === 'post') return request('POST', target.href, fields);
  target.search = new URLSearchParams(fields).toString();
  return request('GET', target.href);
}

/** Plays the person from the authorization URL until the hub redirects back to `redirectUri`. */
async function signInAsPerson(authorizationUrl, redirectUri, provider) {
  let page = await request('GET', authorizationUrl.href);
  for (let step = 0; step < 30; step += 1) {
    if (page.status >= 300 && page.status < 400 && page.location) {
      if (page.location.startsWith(redirectUri)) return new URL(page.location);
      page = await request('GET', page.location);
      continue;
    }
    if (page.status !== 200) {
      throw new Error(`unexpected HTTP ${page.status} at ${page.url}:\n${page.body.slice(0, 2000)}`);
    }
    const actions = forms(page.body).map((f) => f.action);
    if (actions.some((a) => /\/choose-provider$/.test(a))) {
      page = await submit(page, /\/choose-provider$/, { provider });
    } else if (actions.some((a) => /\/authorize\/decide$/.test(a))) {
      // The stub provider's page: the first persona and `success` are checked by default.
      page = await submit(page, /\/authorize\/decide$/);
    } else if (actions.some((a) => /\/consent$/.test(a))) {
      // The hub's consent page (shown before identity claims are released): "Share and continue".
      page = await submit(page, /\/consent$/, { decision: 'accept' });
    } else {
      throw new Error(`a page the person cannot get past at ${page.url}:\n${page.body.slice(0, 2000)}`);
    }
  }
  throw new Error('the journey did not come back to the redirect URI in 30 steps');
}

// ---------------------------------------------------------------------------------------------------
// The relying party: nothing below is custom protocol code.
// ---------------------------------------------------------------------------------------------------

async function main() {
  const issuer = new URL(env('HUB_ISSUER'));
  const clientId = env('CLIENT_ID');
  const redirectUri = env('REDIRECT_URI');
  const key = await importPrivateKey(env('PRIVATE_KEY_PEM_FILE'));
  const provider = process.env.PROVIDER || 'stub-a';

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
    // The test federation runs on http://127.0.0.1; a real deployment is https and drops this.
    { execute: [client.allowInsecureRequests], timeout: TIMEOUT_MS / 1000 },
  );

  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
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
  const claims = tokens.claims();
  if (!claims) throw new Error('no ID token claims');
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  process.stdout.write(
    `${JSON.stringify({
      ok: true,
      sub: claims.sub,
      vot: claims.vot,
      claims,
      token_type: tokens.token_type,
      expires_in: tokens.expires_in,
      userinfo,
    })}\n`,
  );
}

function describe(value, depth = 0) {
  if (value === undefined || value === null || depth > 3) return value;
  if (value instanceof Response) {
    return { status: value.status, headers: Object.fromEntries(value.headers.entries()) };
  }
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
  if (value instanceof URL) return value.href;
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v, depth + 1)]));
  }
  return value;
}

try {
  await main();
  process.exit(0);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: describe(error), trail })}\n`);
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
}
