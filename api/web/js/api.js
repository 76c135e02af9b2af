// The only door to the server: every call sends the key the user typed as
// `Authorization: Bearer`, never in a URL. The key lives in sessionStorage,
// so it is gone when the browser session ends and is not shared between
// tabs' sessions of another origin. The page decides nothing the server
// does not: a refusal comes back as an ApiError carrying the API's message.

const KEY = "casetrace.key";

export function storedKey() {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

/** An error answer of the API: its status, code and message, as sent. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Encodes `params` (skipping empty values) as a query string. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** Calls the API; resolves with the parsed JSON, rejects with an ApiError. */
export async function api(path, { method = "GET", body, key = storedKey() } = {}) {
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (e) {
    throw new ApiError(0, "network", `The server did not answer: ${e.message}`);
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    // The API's error body is {code, message}; show its message verbatim.
    const err = json && (json.error || json);
    throw new ApiError(
      res.status,
      (err && err.code) || `http_${res.status}`,
      (err && err.message) || `${res.status} ${res.statusText}`,
    );
  }
  return json;
}

/**
 * A surface as the API sends it ({width, height, min, max, heights: base64
 * of little-endian u16, 65535 = no data}) as a Float32Array of heights with
 * NaN where there is no data.
 */
export function decodeHeights(s) {
  const bin = atob(s.heights);
  const n = s.width * s.height;
  if (bin.length !== 2 * n) {
    throw new ApiError(0, "bad_surface", `surface of ${s.width}x${s.height} carries ${bin.length} bytes`);
  }
  const out = new Float32Array(n);
  const span = (s.max - s.min) / 65534;
  for (let i = 0; i < n; i++) {
    const v = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
    out[i] = v === 65535 ? NaN : s.min + span * v;
  }
  return out;
}
