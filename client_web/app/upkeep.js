// Keeping the account's published prekeys usable (PROTOCOL.md section 3):
// more one-time prekeys when the server says they run low, and new signed
// and post-quantum prekeys every SPK_ROTATE_DAYS. The private halves are
// committed to the vault before the public halves are published, so the
// server never hands out a key whose private half could be lost. `context`
// holds the vault, the token and the HTTP `request` (api.js, or a fake in
// tests).

import { OPK_LOW_WATER } from "../lib/constants.js";
import { addOneTimePrekeys, rotatePrekeys, rotationDue } from "../lib/prekeys.js";
import { nowSeconds } from "./ids.js";
import { retryOnConflict } from "./vaultstore.js";

export async function changePrekeys({ vault, token, request }, change) {
  const upload = await retryOnConflict(async () => {
    const item = vault.find("prekeys");
    if (!item) return null;
    const { item: next, upload } = change(item.data);
    await vault.commit([vault.write(item.id, next)]);
    return upload;
  }, vault.sync);
  if (upload) await request("PUT", "/api/prekeys", { token: token(), body: upload });
}

// Tops up only if the server still holds too few: the server's `prekeys_low`
// and the check at sign-in can both ask, and only one batch is wanted.
export async function topUpIfLow(context, identity) {
  const status = await context.request("GET", "/api/prekeys", { token: context.token() });
  if (Number.isInteger(status.one_time) && status.one_time < OPK_LOW_WATER) {
    await changePrekeys(context, (item) => addOneTimePrekeys(identity, item));
  }
}

// At sign-in: rotate if due, and top up if the server holds too few.
export async function checkPrekeys(context, identity) {
  const item = context.vault.find("prekeys");
  if (item && rotationDue(item.data, nowSeconds())) {
    await changePrekeys(context, (data) => rotatePrekeys(identity, data, nowSeconds()));
  }
  await topUpIfLow(context, identity);
}
