// The one retry rule of the client (app/retry.js): sync and try again on
// `vault_conflict`, at most VAULT_CONFLICT_RETRIES times, then the conflict
// reaches the caller; every other error passes at once.
import assert from "node:assert/strict";
import test from "node:test";

import { ApiError } from "../app/api.js";
import { retryOnConflict } from "../app/retry.js";
import { VAULT_CONFLICT_RETRIES } from "../lib/constants.js";
import { conflict } from "../testing/fakes.mjs";

test("a conflict is followed by a sync and another attempt", async () => {
  const calls = [];
  let conflicts = 2;
  const result = await retryOnConflict(
    async () => calls.push("sync"),
    async () => {
      calls.push("attempt");
      if (conflicts-- > 0) throw conflict();
      return "stored";
    },
  );
  assert.equal(result, "stored");
  assert.deepEqual(calls, ["attempt", "sync", "attempt", "sync", "attempt"]);
});

test("after the last retry the conflict error itself reaches the caller", async () => {
  let attempts = 0;
  let syncs = 0;
  const error = conflict();
  await assert.rejects(
    retryOnConflict(
      async () => {
        syncs += 1;
      },
      async () => {
        attempts += 1;
        throw error;
      },
    ),
    (thrown) => thrown === error,
  );
  assert.equal(attempts, VAULT_CONFLICT_RETRIES + 1);
  assert.equal(syncs, VAULT_CONFLICT_RETRIES);
});

test("any other error passes at once, without a sync", async () => {
  let syncs = 0;
  await assert.rejects(
    retryOnConflict(
      async () => {
        syncs += 1;
      },
      async () => {
        throw new ApiError("forbidden", "No.");
      },
    ),
    { code: "forbidden" },
  );
  assert.equal(syncs, 0);
});

test("a failed sync ends the retries with its own error", async () => {
  await assert.rejects(
    retryOnConflict(
      async () => {
        throw new ApiError("offline", "");
      },
      async () => {
        throw conflict();
      },
    ),
    { code: "offline" },
  );
});
