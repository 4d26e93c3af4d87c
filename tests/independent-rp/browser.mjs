// The person's browser, shared by the independent-client scripts: manual redirects, one cookie jar for
// 127.0.0.1, forms submitted as a browser without JavaScript would (the hub's form_post page included:
// its form goes to the client's redirect URI by POST, urlencoded). No protocol code: that is the
// library's.

// ---------------------------------------------------------------------------------------------------
// The browser: manual redirects, one cookie jar for 127.0.0.1 (a browser shares cookies across the ports
// of one host; the federation's `__Host-…; Secure` cookies are kept on loopback as browsers do), forms.
// ---------------------------------------------------------------------------------------------------

export const TIMEOUT_MS = 20_000;

const jar = new Map();
export const trail = [];

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

export async function request(method, url, form) {
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
export function forms(html) {
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
export async function submit(page, actionPattern, set = {}) {
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

/**
 * Plays the person from the authorization URL until the hub sends them back to `redirectUri`: the URL of
 * the redirect, or `{ posted }`, the client's answer to the form the hub's form_post page made the browser
 * send.
 */
export async function signInAsPerson(authorizationUrl, redirectUri, provider) {
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
    if (actions.some((a) => a === redirectUri)) {
      // The hub's form_post page (OAuth 2.0 Form Post Response Mode): the browser posts it to the client.
      const posted = await submit(page, new RegExp(`^${redirectUri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
      return { posted };
    }
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

