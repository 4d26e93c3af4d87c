"""An independent relying party in Python signing in through the hub with Authlib, by configuration alone.

Authlib's OAuth2Session does the protocol: the authorization URL with state, nonce and PKCE (S256), the
state check on the way back, the token request authenticated with private_key_jwt (Authlib's
PrivateKeyJWT, ES256), and userinfo with the Bearer token; the ID token is verified with joserfc (the
Authlib project's JOSE library) against the hub's JWKS: signature, iss, aud, nonce, exp. This script only
plays the person's browser between the authorization URL and the redirect back.

Environment: HUB_ISSUER, CLIENT_ID, REDIRECT_URI (nothing needs to listen there), PRIVATE_KEY_PEM_FILE
(the client's P-256 key, PKCS#8 PEM; its public key is registered), PROVIDER (default stub-a).

Prints one JSON line, {"ok": true, ...} and exits 0, or {"ok": false, ...} and exits 1.
"""

import json
import os
import sys
import traceback
import warnings
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

TIMEOUT = 20

# Authlib warns of its older JOSE module, which this script does not use.
warnings.simplefilter("ignore", DeprecationWarning)


def env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is required")
    return value


# ---------------------------------------------------------------------------------------------------
# The browser: manual redirects, one cookie jar for 127.0.0.1 (a browser keeps `Secure` cookies on
# loopback; Python's cookie policy would not send them over http), forms submitted without JavaScript.
# ---------------------------------------------------------------------------------------------------

jar = {}
trail = []


def keep_cookies(response):
    for line in response.raw.headers.getlist("Set-Cookie"):
        pair, *attributes = line.split(";")
        name, _, value = pair.strip().partition("=")
        expired = any(a.strip().lower() == "max-age=0" for a in attributes)
        if expired or not value:
            jar.pop(name, None)
        else:
            jar[name] = value


def request(method, url, form=None):
    trail.append(f"{method} {url}")
    headers = {"accept": "text/html"}
    if jar:
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
    response = requests.request(
        method, url, data=form, headers=headers, allow_redirects=False, timeout=TIMEOUT
    )
    keep_cookies(response)
    location = response.headers.get("location")
    return {
        "url": url,
        "status": response.status_code,
        "location": urljoin(url, location) if location else None,
        "body": response.text,
    }


class Forms(HTMLParser):
    """The page's forms: action, method and the fields a browser would submit unchanged."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(), "fields": []})
        elif tag == "input" and self.forms and a.get("name") and "disabled" not in a:
            kind = (a.get("type") or "text").lower()
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            if kind in ("submit", "button", "image"):
                return
            self.forms[-1]["fields"].append((a["name"], a.get("value") or ""))


def submit(page, action_suffix, overrides=None):
    parser = Forms()
    parser.feed(page["body"])
    form = next((f for f in parser.forms if f["action"].endswith(action_suffix)), None)
    if form is None:
        raise RuntimeError(f"no form for {action_suffix} on {page['url']}:\n{page['body'][:2000]}")
    overrides = overrides or {}
    fields = [(k, v) for k, v in form["fields"] if k not in overrides] + list(overrides.items())
    target = urljoin(page["url"], form["action"])
    if form["method"] == "post":
        return request("POST", target, fields)
    return request("GET", f"{target}?{urlencode(fields)}")


def sign_in_as_person(url, redirect_uri, provider):
    page = request("GET", url)
    for _ in range(30):
        if 300 <= page["status"] < 400 and page["location"]:
            if page["location"].startswith(redirect_uri):
                return page["location"]
            page = request("GET", page["location"])
            continue
        if page["status"] != 200:
            raise RuntimeError(f"HTTP {page['status']} at {page['url']}:\n{page['body'][:2000]}")
        parser = Forms()
        parser.feed(page["body"])
        actions = [f["action"] for f in parser.forms]
        if any(a.endswith("/choose-provider") for a in actions):
            page = submit(page, "/choose-provider", {"provider": provider})
        elif any(a.endswith("/authorize/decide") for a in actions):
            page = submit(page, "/authorize/decide")
        elif any(a.endswith("/consent") for a in actions):
            page = submit(page, "/consent", {"decision": "accept"})
        else:
            raise RuntimeError(f"a page the person cannot get past at {page['url']}:\n{page['body'][:2000]}")
    raise RuntimeError("the journey did not come back to the redirect URI in 30 steps")


# ---------------------------------------------------------------------------------------------------
# The relying party: nothing below is custom protocol code.
# ---------------------------------------------------------------------------------------------------


def main():
    issuer = env("HUB_ISSUER")
    client_id = env("CLIENT_ID")
    redirect_uri = env("REDIRECT_URI")
    with open(env("PRIVATE_KEY_PEM_FILE")) as f:
        private_key = ECKey.import_key(f.read())
    provider = os.environ.get("PROVIDER", "stub-a")

    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    session = OAuth2Session(
        client_id,
        private_key,
        scope="openid email",
        redirect_uri=redirect_uri,
        token_endpoint_auth_method="private_key_jwt",
        code_challenge_method="S256",
    )
    session.register_client_auth_method(PrivateKeyJWT(metadata["token_endpoint"], alg="ES256"))
    code_verifier = generate_token(64)
    nonce = generate_token(24)
    url, _state = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )

    callback = sign_in_as_person(url, redirect_uri, provider)

    token = session.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=code_verifier
    )
    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=TIMEOUT).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=metadata["id_token_signing_alg_values_supported"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
    ).validate(id_token.claims)
    userinfo = session.get(metadata["userinfo_endpoint"], timeout=TIMEOUT).json()
    return {
        "ok": True,
        "sub": id_token.claims["sub"],
        "vot": id_token.claims.get("vot"),
        "id_token_alg": id_token.header["alg"],
        "token_type": token.get("token_type"),
        "userinfo": userinfo,
    }


if __name__ == "__main__":
    try:
        print(json.dumps(main()))
        sys.exit(0)
    except Exception as error:  # noqa: BLE001 (the test reads what failed)
        print(json.dumps({"ok": False, "error": repr(error), "trail": trail}))
        traceback.print_exc()
        sys.exit(1)
