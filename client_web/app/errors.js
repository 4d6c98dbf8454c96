// The client's own typed errors; each has a `code` that wording.js turns into
// words a person can act on. Server errors are ApiError (api.js), protocol
// errors come from lib/errors.js.

export class AccountError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "AccountError";
    this.code = code;
  }
}

// A message that cannot be sent as written; its message says what to change.
export class ComposeError extends Error {
  constructor(message) {
    super(message);
    this.name = "ComposeError";
    this.code = "compose";
  }
}
