// A small deployment of panva's oidc-provider (OpenID Certified), standing in for an independent
// identity provider that is not ours. Everything below is the provider operator's configuration: the
// hub is registered here as an ordinary `private_key_jwt` client, and the hub knows this provider only
// through its own provider registry entry (issuer, client_id, levels).
//
// Environment:
//   PORT              port to listen on (127.0.0.1)
//   ISSUER            the issuer identifier, http://127.0.0.1:PORT
//   HUB_JWKS_URI      the hub's client assertion keys, {hub}/upstream/jwks.json
//   HUB_REDIRECT_URI  the hub's redirect URI, {hub}/upstream/callback
//
// Prints `listening` on stdout when ready.
//
// The person's part: GET /interaction/:uid shows a tiny HTML form (one POST form, submit button
// `#continue`). At the login prompt the person signs in as the one fictional account; at the consent
// prompt they grant what the hub asked for. The `acr` of the login is the first of the request's
// `acr_values` this account can reach (it can reach every supported value).

import { createServer } from 'node:http';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
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
const HUB_JWKS_URI = env('HUB_JWKS_URI');
const HUB_REDIRECT_URI = env('HUB_REDIRECT_URI');
const HUB_ORIGIN = new URL(HUB_JWKS_URI).origin;

/** The levels this provider asserts, as `acr` values. */
const ACR_VALUES = ['Cl.Cm', 'Cl.Cm.P2'];

/** The one (fictional) person who has an account here, and the levels they can reach. */
const ACCOUNT = {
  accountId: 'ind-0001-ada',
  reachable: ACR_VALUES,
  claims: {
    given_name: 'Ada Mary',
    family_name: 'Lovelace',
    birthdate: '1985-12-10',
    email: 'ada.lovelace@example.org',
    email_verified: true,
    phone_number: '+447700900123',
    phone_number_verified: true,
    address: {
      street_address: '12 Example Street',
      locality: 'Exampleton',
      postal_code: 'EX1 2MP',
      country: 'GB',
    },
  },
};

// An ES256 signing key generated at start, so ID tokens are ES256.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = privateKey.export({ format: 'jwk' });
// RFC 7638 thumbprint as the key id.
signingJwk.kid = createHash('sha256')
  .update(JSON.stringify({ crv: signingJwk.crv, kty: signingJwk.kty, x: signingJwk.x, y: signingJwk.y }))
  .digest('base64url');
signingJwk.alg = 'ES256';
signingJwk.use = 'sig';

const configuration = {
  clients: [
    {
      client_id: 'federation-hub',
      client_name: 'Federation hub',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: HUB_JWKS_URI,
      redirect_uris: [HUB_REDIRECT_URI],
      id_token_signed_response_alg: 'ES256',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  acrValues: ACR_VALUES,
  scopes: ['openid', 'profile', 'email', 'phone', 'address'],
  claims: {
    acr: null,
    auth_time: null,
    sid: null,
    iss: null,
    openid: ['sub'],
    profile: ['given_name', 'family_name', 'birthdate'],
    email: ['email', 'email_verified'],
    phone: ['phone_number', 'phone_number_verified'],
    address: ['address'],
  },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    claimsParameter: { enabled: true },
    rpInitiatedLogout: { enabled: false },
  },
  // oidc-provider 9 refuses outgoing requests to special-use addresses (SSRF protection). In this test
  // deployment the hub's jwks_uri is on loopback, so the protection is lifted for that one origin only.
  fetch(url, options) {
    if (new URL(url).origin === HUB_ORIGIN) delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async findAccount(_ctx, sub) {
    if (sub !== ACCOUNT.accountId) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, ...ACCOUNT.claims };
      },
    };
  },
};

const provider = new Provider(ISSUER, configuration);
const callback = provider.callback();

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(res, title, body) {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The first requested `acr_values` entry the account can reach (the account's highest otherwise). */
function acrFor(params) {
  const requested = String(params.acr_values ?? '').split(' ').filter(Boolean);
  return requested.find((v) => ACCOUNT.reachable.includes(v)) ?? ACCOUNT.reachable[0];
}

async function showInteraction(req, res, uid) {
  const { prompt, params } = await provider.interactionDetails(req, res);
  if (prompt.name === 'login') {
    return page(
      res,
      'Sign in to Independent Provider',
      `<p>Signing in for <span id="client">${escape(params.client_id)}</span>
       at level <span id="acr">${escape(acrFor(params))}</span>.</p>
       <form method="post" action="/interaction/${escape(uid)}/login">
         <p>You are <span id="person">${escape(ACCOUNT.claims.given_name)} ${escape(ACCOUNT.claims.family_name)}</span>.</p>
         <button type="submit" id="continue">Sign in</button>
       </form>`,
    );
  }
  const scopes = [...(prompt.details.missingOIDCScope ?? [])].join(' ');
  return page(
    res,
    'Share your details',
    `<p><span id="client">${escape(params.client_id)}</span> asks for: <span id="scopes">${escape(scopes)}</span>.</p>
     <form method="post" action="/interaction/${escape(uid)}/confirm">
       <button type="submit" id="continue">Allow</button>
     </form>`,
  );
}

async function login(req, res) {
  await readForm(req);
  const { prompt, params } = await provider.interactionDetails(req, res);
  if (prompt.name !== 'login') throw new Error(`login posted at the ${prompt.name} prompt`);
  const result = {
    login: { accountId: ACCOUNT.accountId, acr: acrFor(params), amr: ['pwd'] },
  };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

async function confirm(req, res) {
  await readForm(req);
  const details = await provider.interactionDetails(req, res);
  const {
    prompt: { name, details: missing },
    params,
    session: { accountId },
  } = details;
  if (name !== 'consent') throw new Error(`consent posted at the ${name} prompt`);
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scope] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scope.join(' '));
    }
  }
  const grantId = await grant.save();
  const consent = details.grantId ? {} : { grantId };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

const server = createServer(async (req, res) => {
  const { pathname } = new URL(req.url, ISSUER);
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm))?$/.exec(pathname);
  if (!match) return callback(req, res);
  const [, uid, action] = match;
  try {
    if (!action && req.method === 'GET') return await showInteraction(req, res, uid);
    if (action === 'login' && req.method === 'POST') return await login(req, res);
    if (action === 'confirm' && req.method === 'POST') return await confirm(req, res);
    res.statusCode = 405;
    return res.end();
  } catch (err) {
    console.error('interaction error:', err);
    if (!res.headersSent) {
      res.statusCode = 400;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    }
    return res.end(`interaction error: ${err.message}`);
  }
});

provider.on('server_error', (_ctx, err) => console.error('server_error:', err));
// Why a request was refused, for the operator's log (and the test's failure messages).
const explain = (err) =>
  [err.message, err.error_description, err.error_detail, err.cause && explain(err.cause)].filter(Boolean).join(' | ');
for (const event of ['grant.error', 'authorization.error', 'userinfo.error']) {
  provider.on(event, (_ctx, err) => console.error(`${event}:`, explain(err)));
}

server.listen(PORT, '127.0.0.1', () => {
  console.log('listening');
});
