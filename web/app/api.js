// api.js: every request of the page to this server's /api, with the caller's token.
//
// The token (from the "令牌 / Token" dialog) lives in sessionStorage: it lasts as long as the tab
// and is never written to localStorage, a cookie or the URL. When set, every /api request carries
// `Authorization: Bearer <token>`. Failures become an ApiProblem whose message is the server's
// problem+json `detail` (a sentence a person can act on), with the whole problem kept for views
// that need its extra members (a 412's current_version, a 422's violations).

const TOKEN_KEY = 'gridmap.token';

/** The token of this tab, or '' when none is set. */
export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

/** Sets (or, with an empty string, forgets) the token of this tab. */
export function setToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token cannot be kept; requests go without it.
  }
}

/** A failed request: `status`, the problem+json body as `problem` (or null), `message` = its detail. */
export class ApiProblem extends Error {
  constructor(status, problem, fallback) {
    super(problem?.detail ?? problem?.title ?? fallback);
    this.name = 'ApiProblem';
    this.status = status;
    this.problem = problem;
  }

  /** 401 or 403: the token is missing, unknown or not allowed to do this. */
  get isAuth() {
    return this.status === 401 || this.status === 403;
  }
}

/**
 * Sends one request and returns {status, etag, body}. `options`: method, json (a body sent as
 * JSON), ifMatch (a version number or ETag), signal. Throws ApiProblem on a status ≥ 400 and on a
 * network failure (status 0).
 */
export async function request(path, { method = 'GET', json, ifMatch, signal } = {}) {
  const headers = { Accept: 'application/json, application/geo+json, application/problem+json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  if (ifMatch !== undefined && ifMatch !== null) headers['If-Match'] = etagOf(ifMatch);
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json), signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiProblem(0, null, err.message);
  }
  const body = await resp.json().catch(() => null);
  if (!resp.ok) throw new ApiProblem(resp.status, body, `${resp.status} ${resp.statusText}`);
  return { status: resp.status, etag: resp.headers.get('ETag'), body };
}

/** GET a JSON document (its body only). */
export async function getJson(path, options) {
  return (await request(path, options)).body;
}

/** `"7"` for version 7 (or an ETag passed through). */
export function etagOf(version) {
  const s = String(version);
  return s.startsWith('"') || s.startsWith('W/') ? s : `"${s}"`;
}

/** The version number in an ETag such as `"7"` (null when it is not one). */
export function versionOf(etag) {
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(String(etag ?? '').trim());
  return m ? Number(m[1]) : null;
}
