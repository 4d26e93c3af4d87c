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
import { signInAsPerson, trail, TIMEOUT_MS } from './browser.mjs';

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
