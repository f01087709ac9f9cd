/*
 * MD5 (RFC 1321) of bytes, written for /protect: hash banks still exchange MD5 beside PDQ, and
 * the browser's SubtleCrypto does not offer it. Not for anything security-related.
 *
 * Plain script, no build step: defines window.MD5.hex(Uint8Array | ArrayBuffer) -> 32 hex digits.
 */
(function () {
  "use strict";

  // Per-round left rotations and the sine-derived constants of RFC 1321.
  var SHIFTS = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
  ];
  var K = new Int32Array(64);
  for (var n = 0; n < 64; n++) K[n] = Math.floor(Math.abs(Math.sin(n + 1)) * 4294967296) | 0;

  function block(state, words) {
    var a = state[0], b = state[1], c = state[2], d = state[3];
    for (var i = 0; i < 64; i++) {
      var f, g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      var sum = (a + f + K[i] + words[g]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << SHIFTS[i]) | (sum >>> (32 - SHIFTS[i])))) | 0;
    }
    state[0] = (state[0] + a) | 0;
    state[1] = (state[1] + b) | 0;
    state[2] = (state[2] + c) | 0;
    state[3] = (state[3] + d) | 0;
  }

  function hex(input) {
    var bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
    var state = new Int32Array([0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476]);
    var words = new Int32Array(16);
    var length = bytes.length;
    var full = length - (length % 64);
    var i, j;
    for (i = 0; i < full; i += 64) {
      for (j = 0; j < 16; j++) {
        var p = i + 4 * j;
        words[j] = bytes[p] | (bytes[p + 1] << 8) | (bytes[p + 2] << 16) | (bytes[p + 3] << 24);
      }
      block(state, words);
    }
    // The tail, a 1 bit, zeros, and the bit length as a 64-bit little-endian number.
    var tail = new Uint8Array(length % 64 < 56 ? 64 : 128);
    tail.set(bytes.subarray(full));
    tail[length % 64] = 0x80;
    var bitsLow = (length * 8) >>> 0;
    var bitsHigh = Math.floor(length / 536870912) >>> 0;
    var at = tail.length - 8;
    for (j = 0; j < 4; j++) {
      tail[at + j] = (bitsLow >>> (8 * j)) & 0xff;
      tail[at + 4 + j] = (bitsHigh >>> (8 * j)) & 0xff;
    }
    for (i = 0; i < tail.length; i += 64) {
      for (j = 0; j < 16; j++) {
        var q = i + 4 * j;
        words[j] = tail[q] | (tail[q + 1] << 8) | (tail[q + 2] << 16) | (tail[q + 3] << 24);
      }
      block(state, words);
    }
    var out = "";
    for (i = 0; i < 4; i++) {
      for (j = 0; j < 4; j++) out += ("0" + ((state[i] >>> (8 * j)) & 0xff).toString(16)).slice(-2);
    }
    return out;
  }

  window.MD5 = { hex: hex };
})();
