// What the Double Ratchet costs per message over the bare AEAD it wraps.
//
// Run: node bench/crypto_bench.mjs  (after `make deps`). Prints JSON: for each
// padded size, microseconds per message for ratchet encrypt + decrypt (within
// one chain, and with a DH ratchet step on every message as in a strict
// back-and-forth) and for raw XChaCha20-Poly1305 encrypt + decrypt of the same
// padded plaintext in the same run, and their ratios. No assertions: the
// numbers depend on the machine; the ratios are what to compare.

import { performance } from 'node:perf_hooks';

import { generateX25519 } from '../client_web/lib/keys.js';
import { pad } from '../client_web/lib/padding.js';
import {
  initReceiver,
  initSender,
  ratchetDecrypt,
  ratchetEncrypt,
} from '../client_web/lib/ratchet.js';
import { loadSodium } from '../client_web/lib/sodium.js';

const sodium = await loadSodium();
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const PAYLOAD_SIZES = [200, 1000, 4000, 16000];

function newConversation() {
  const sharedKey = sodium.randombytes_buf(32);
  const ad = sodium.randombytes_buf(64);
  const ek = sodium.randombytes_buf(32);
  const spk = generateX25519();
  return {
    alice: initSender({ sharedKey, remoteRatchetKey: spk.publicKey, ad, ek, pending: null }),
    bob: initReceiver({ sharedKey, signedPrekeyPair: spk, ad, ek }),
  };
}

function timePerMessage(run) {
  run(Math.min(100, MESSAGES));
  const start = performance.now();
  run(MESSAGES);
  return ((performance.now() - start) * 1000) / MESSAGES;
}

function sameChain(plaintext) {
  return (count) => {
    let { alice, bob } = newConversation();
    for (let i = 0; i < count; i += 1) {
      const sent = ratchetEncrypt(alice, plaintext);
      alice = sent.state;
      bob = ratchetDecrypt(bob, sent.header, sent.ciphertext).state;
    }
  };
}

function backAndForth(plaintext) {
  return (count) => {
    const parties = newConversation();
    const order = ['alice', 'bob'];
    for (let i = 0; i < count; i += 1) {
      const [from, to] = i % 2 === 0 ? order : [...order].reverse();
      const sent = ratchetEncrypt(parties[from], plaintext);
      parties[from] = sent.state;
      parties[to] = ratchetDecrypt(parties[to], sent.header, sent.ciphertext).state;
    }
  };
}

// A counter nonce, so that only the AEAD is measured: drawing 24 random bytes
// through libsodium.js costs more than the AEAD itself, and the ratchet
// derives its nonces instead of drawing them.
function rawAead(plaintext) {
  const key = sodium.randombytes_buf(32);
  const ad = sodium.randombytes_buf(104);
  const nonce = new Uint8Array(24);
  return (count) => {
    for (let i = 0; i < count; i += 1) {
      sodium.increment(nonce);
      const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, ad, null, nonce, key);
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key);
    }
  };
}

const round = (value) => Math.round(value * 100) / 100;
const results = PAYLOAD_SIZES.map((size) => {
  const plaintext = pad(sodium.randombytes_buf(size));
  const raw = timePerMessage(rawAead(plaintext));
  const chain = timePerMessage(sameChain(plaintext));
  const ratchetStep = timePerMessage(backAndForth(plaintext));
  return {
    payload_bytes: size,
    padded_bytes: plaintext.length,
    raw_aead_us: round(raw),
    ratchet_same_chain_us: round(chain),
    ratchet_every_message_dh_step_us: round(ratchetStep),
    ratio_same_chain: round(chain / raw),
    ratio_every_message_dh_step: round(ratchetStep / raw),
  };
});

console.log(JSON.stringify({
  benchmark: 'ratchet encrypt+decrypt per message vs raw XChaCha20-Poly1305, same padded plaintext',
  runtime: `node ${process.versions.node}`,
  libsodium: sodium.sodium_version_string(),
  messages_per_measurement: MESSAGES,
  results,
}, null, 1));
