// The one rule every compare-and-swap path of the client follows
// (PROTOCOL.md section 10): a change is built from the vault as this device
// holds it and sent with the versions it read. The server refuses it with
// `vault_conflict` when another device wrote first; the vault is then synced
// and the change built and sent again, from the new state.
//
// Retries are bounded by VAULT_CONFLICT_RETRIES, the same bound as the Python
// client's; each follows a sync, so running out means devices keep racing.
// The conflict error then reaches the caller, who shows it (wording.js) or,
// for a delivery, leaves the envelope stored to be delivered again.

import { VAULT_CONFLICT_RETRIES } from "../lib/constants.js";

export function isConflict(error) {
  return error?.code === "vault_conflict";
}

// Runs `operation` until it returns without a conflict, calling `sync`
// before each retry; `operation` must build its change afresh every time.
export async function retryOnConflict(sync, operation) {
  for (let retry = 0; ; retry += 1) {
    try {
      return await operation();
    } catch (error) {
      if (!isConflict(error) || retry === VAULT_CONFLICT_RETRIES) throw error;
      await sync();
    }
  }
}
