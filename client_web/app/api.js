// The server's HTTP API (docs/API.md). The bearer token is passed in by the
// caller from memory; nothing here stores it.

export class ApiError extends Error {
  constructor(code, message, { status = 0, retryAfter = null, items = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
    this.items = items;
  }
}

const DEFAULT_TIMEOUT_MS = 20000;

// `keepalive` lets a request outlive the page (quick exit, a closing tab).
export async function request(
  method,
  path,
  { body, token, timeoutMs = DEFAULT_TIMEOUT_MS, keepalive = false } = {},
) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      keepalive,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch (error) {
    const timedOut = error?.name === "AbortError";
    throw new ApiError(
      timedOut ? "timeout" : "offline",
      timedOut ? "The server took too long to answer." : "The server could not be reached.",
    );
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok) return data ?? {};
  const error = data?.error ?? {};
  throw new ApiError(
    typeof error.code === "string" ? error.code : "internal",
    typeof error.message === "string" ? error.message : `The server answered ${response.status}.`,
    {
      status: response.status,
      retryAfter: retryAfterSeconds(error, response),
      items: Array.isArray(error.items) ? error.items : null,
    },
  );
}

function retryAfterSeconds(error, response) {
  const value = error.retry_after ?? response.headers.get("Retry-After");
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}
