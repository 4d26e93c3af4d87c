// panva's oidc-provider (OpenID Certified) as a direct provider to one service: the peer that
// `scripts/bench-table` measures with the same load generator as the hub, so the hub's CPU per sign-in
// can be read against a well-known implementation's. Its in-memory adapter (the default) holds the
// state, as the hub's memory store does.
//
// Environment:
//   PORT             port to listen on (127.0.0.1)
//   ISSUER           the issuer identifier, http://127.0.0.1:PORT
//   CLIENT_KEY_FILE  the service's public key (SubjectPublicKeyInfo PEM, P-256): private_key_jwt, ES256
//   REDIRECT_URI     the service's redirect URI
//
// Prints `listening` on stdout when ready. The person's part is two pages, each with one POST form:
// sign in (as the one fictional account) and share (grant the scopes asked for).

import { createServer } from 'node:http';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
};

const PORT = Number(env('PORT'));
const ISSUER = env('ISSUER');
const clientJwk = createPublicKey(readFileSync(env('CLIENT_KEY_FILE'))).export({ format: 'jwk' });
clientJwk.alg = 'ES256';
clientJwk.use = 'sig';
// The RFC 7638 thumbprint, the key id the federation's clients put in their assertions' headers.
clientJwk.kid = createHash('sha256')
  .update(JSON.stringify({ crv: clientJwk.crv, kty: clientJwk.kty, x: clientJwk.x, y: clientJwk.y }))
  .digest('base64url');

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'peer-1' };

const ACCOUNT = { email: 'ada.lovelace@example.org', email_verified: true };

const provider = new Provider(ISSUER, {
  clients: [
    {
      client_id: 'loadgen',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [clientJwk] },
      redirect_uris: [env('REDIRECT_URI')],
      id_token_signed_response_alg: 'ES256',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  scopes: ['openid', 'email'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  features: { devInteractions: { enabled: false }, userinfo: { enabled: true } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    return { accountId: sub, async claims() { return { sub, ...ACCOUNT }; } };
  },
});
const callback = provider.callback();

function page(res, title, action) {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body><h1>${title}</h1><form method="post" action="${action}"><button type="submit">Continue</button></form></body></html>`);
}

async function drain(req) {
  for await (const _ of req);
}

async function interaction(req, res, uid, action) {
  if (!action) {
    const { prompt } = await provider.interactionDetails(req, res);
    const next = prompt.name === 'login' ? 'login' : 'confirm';
    return page(res, prompt.name === 'login' ? 'Sign in' : 'Share your details', `/interaction/${uid}/${next}`);
  }
  await drain(req);
  const details = await provider.interactionDetails(req, res);
  if (action === 'login') {
    const result = { login: { accountId: 'peer-0001' } };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  const { prompt: { details: missing }, params, session: { accountId } } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  const grantId = await grant.save();
  const consent = details.grantId ? {} : { grantId };
  return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

const server = createServer(async (req, res) => {
  const { pathname } = new URL(req.url, ISSUER);
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm))?$/.exec(pathname);
  if (!match) return callback(req, res);
  try {
    return await interaction(req, res, match[1], match[2]);
  } catch (err) {
    console.error('interaction error:', err);
    if (!res.headersSent) res.statusCode = 400;
    return res.end();
  }
});
provider.on('server_error', (_ctx, err) => console.error('server_error:', err));
server.listen(PORT, '127.0.0.1', () => console.log('listening'));
