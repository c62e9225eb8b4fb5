/*
 * Proof-of-work solver core, loaded as a classic script by the main-thread
 * fallback and by the worker. The hash is SHA-256 (FIPS 180-4) restricted to
 * messages of at most 55 bytes, which fit in one 64-byte block with padding.
 * Puzzle i of a challenge is solved by a nonce such that
 * SHA-256(salt + ":" + i + ":" + nonce) starts with `bits` zero bits.
 */
(function (root) {
  'use strict';

  // Round constants and initial hash value of FIPS 180-4, sections 4.2.2 and 5.3.3.
  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var IV = new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  ]);

  // One block holds the message, the 0x80 padding byte and the 8-byte bit length.
  var MAX_MESSAGE_BYTES = 55;
  // Nonces are JSON numbers, so they stay below 2^53 to remain exact integers.
  var MAX_NONCE = 9007199254740991;
  var MAX_NONCE_DIGITS = 16;
  var MAX_BITS = 64;

  /**
   * Runs rounds firstRound..endRound-1 of the SHA-256 compression function
   * from the working variables in `state` and writes the result into `out`
   * (without adding the initial hash value). `w` is the 64-word message
   * schedule: words 0..15 must be set, words 16..63 are computed here.
   */
  function compressRounds(w, state, firstRound, endRound, out) {
    var a = state[0], b = state[1], c = state[2], d = state[3];
    var e = state[4], f = state[5], g = state[6], h = state[7];
    var t = firstRound;
    var extend, t1, t2, x, y;
    while (t < endRound) {
      extend = t >= 16;
      if (((endRound - t) & 7) !== 0 || (!extend && t + 8 > 16)) {
        // One round with the textbook variable moves, until the rounds left
        // come in blocks of eight that do not straddle round 16.
        if (extend) {
          x = w[t - 15];
          y = w[t - 2];
          w[t] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t - 7] +
            (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[t - 16] | 0;
        }
        t1 = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) + K[t] + w[t] | 0;
        t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) ^ (a & c) ^ (b & c)) | 0;
        h = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
        t++;
        continue;
      }
      // Eight rounds unrolled, without moving the eight working variables
      // each round. Instead the names take turns in each role. A round writes
      // only the variable in the role of d (new e = d + T1) and the one in the
      // role of h (new a = T1 + T2). After eight rounds each name is back in
      // its own role.
      if (extend) {
        x = w[t - 15];
        y = w[t - 2];
        w[t] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t - 7] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[t - 16] | 0;
      }
      t1 = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) + K[t] + w[t] | 0;
      d = d + t1 | 0;
      h = t1 + (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c)) | 0;
      if (extend) {
        x = w[t - 14];
        y = w[t - 1];
        w[t + 1] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t - 6] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[t - 15] | 0;
      }
      t1 = g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7))) +
        ((d & e) ^ (~d & f)) + K[t + 1] + w[t + 1] | 0;
      c = c + t1 | 0;
      g = t1 + (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) +
        ((h & a) ^ (h & b) ^ (a & b)) | 0;
      if (extend) {
        x = w[t - 13];
        y = w[t];
        w[t + 2] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t - 5] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[t - 14] | 0;
      }
      t1 = f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7))) +
        ((c & d) ^ (~c & e)) + K[t + 2] + w[t + 2] | 0;
      b = b + t1 | 0;
      f = t1 + (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) +
        ((g & h) ^ (g & a) ^ (h & a)) | 0;
      if (extend) {
        x = w[t - 12];
        y = w[t + 1];
        w[t + 3] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t - 4] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[t - 13] | 0;
      }
      t1 = e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7))) +
        ((b & c) ^ (~b & d)) + K[t + 3] + w[t + 3] | 0;
      a = a + t1 | 0;
      e = t1 + (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) +
        ((f & g) ^ (f & h) ^ (g & h)) | 0;
      if (extend) {
        x = w[t - 11];
        y = w[t + 2];
        w[t + 4] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t - 3] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[t - 12] | 0;
      }
      t1 = d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7))) +
        ((a & b) ^ (~a & c)) + K[t + 4] + w[t + 4] | 0;
      h = h + t1 | 0;
      d = t1 + (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) +
        ((e & f) ^ (e & g) ^ (f & g)) | 0;
      if (extend) {
        x = w[t - 10];
        y = w[t + 3];
        w[t + 5] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t - 2] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[t - 11] | 0;
      }
      t1 = c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7))) +
        ((h & a) ^ (~h & b)) + K[t + 5] + w[t + 5] | 0;
      g = g + t1 | 0;
      c = t1 + (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) +
        ((d & e) ^ (d & f) ^ (e & f)) | 0;
      if (extend) {
        x = w[t - 9];
        y = w[t + 4];
        w[t + 6] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t - 1] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[t - 10] | 0;
      }
      t1 = b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7))) +
        ((g & h) ^ (~g & a)) + K[t + 6] + w[t + 6] | 0;
      f = f + t1 | 0;
      b = t1 + (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) +
        ((c & d) ^ (c & e) ^ (d & e)) | 0;
      if (extend) {
        x = w[t - 8];
        y = w[t + 5];
        w[t + 7] = (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[t] +
          (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[t - 9] | 0;
      }
      t1 = a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) +
        ((f & g) ^ (~f & h)) + K[t + 7] + w[t + 7] | 0;
      e = e + t1 | 0;
      a = t1 + (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) +
        ((b & c) ^ (b & d) ^ (c & d)) | 0;
      t += 8;
    }
    out[0] = a; out[1] = b; out[2] = c; out[3] = d;
    out[4] = e; out[5] = f; out[6] = g; out[7] = h;
  }

  function packWords(block, w, firstWord, lastWord) {
    for (var i = firstWord; i <= lastWord; i++) {
      var j = i << 2;
      w[i] = (block[j] << 24) | (block[j + 1] << 16) | (block[j + 2] << 8) | block[j + 3];
    }
  }

  // Writes an ASCII message plus padding into a zeroed block and fills w[0..15].
  function loadBlock(message, block, w) {
    var length = message.length;
    if (length > MAX_MESSAGE_BYTES) {
      throw new RangeError('message is ' + length + ' bytes, the maximum is ' + MAX_MESSAGE_BYTES);
    }
    block.fill(0);
    for (var i = 0; i < length; i++) {
      var code = message.charCodeAt(i);
      if (code > 0x7e || code < 0x20) {
        throw new RangeError('message contains a non-printable-ASCII character at index ' + i);
      }
      block[i] = code;
    }
    block[length] = 0x80;
    packWords(block, w, 0, 15);
    w[15] = length * 8;
  }

  /** Returns the SHA-256 digest of a printable-ASCII string of at most 55 bytes, as hex. */
  function digestHex(message) {
    var block = new Uint8Array(64);
    var w = new Int32Array(64);
    var out = new Int32Array(8);
    loadBlock(message, block, w);
    compressRounds(w, IV, 0, 64, out);
    var hex = '';
    for (var i = 0; i < 8; i++) {
      hex += ('0000000' + ((IV[i] + out[i]) >>> 0).toString(16)).slice(-8);
    }
    return hex;
  }

  function checkInteger(name, value, min, max) {
    if (typeof value !== 'number' || Math.floor(value) !== value || value < min || value > max) {
      throw new RangeError(name + ' must be an integer from ' + min + ' to ' + max + ', got ' + value);
    }
  }

  // Scratch buffers shared by calls, which is safe because a scope runs one call at a time.
  var block = new Uint8Array(64);
  var schedule = new Int32Array(64);
  var roundState = new Int32Array(8);
  var output = new Int32Array(8);

  /**
   * Tries nonces startNonce, startNonce + 1, ... for puzzle `index` and stops
   * at the first one whose hash starts with `bits` zero bits, or after
   * `maxTries` hashes. Returns {found, nonce, tries}: when found is false,
   * nonce is the next nonce to try. Throws RangeError on invalid arguments and
   * Error when the nonce passes 2^53 - 1 without a match.
   */
  function solvePuzzle(salt, index, bits, startNonce, maxTries) {
    checkInteger('index', index, 0, 999);
    checkInteger('bits', bits, 0, MAX_BITS);
    checkInteger('startNonce', startNonce, 0, MAX_NONCE);
    checkInteger('maxTries', maxTries, 1, MAX_NONCE);
    var prefix = String(salt) + ':' + index + ':';
    if (prefix.length + MAX_NONCE_DIGITS > MAX_MESSAGE_BYTES) {
      throw new RangeError('salt is too long: ' + String(salt).length + ' characters');
    }
    loadBlock(prefix + startNonce, block, schedule);

    // Words before the nonce never change, so their rounds run once per call.
    var start = prefix.length;
    var end = start + String(startNonce).length;
    var constantRounds = start >> 2;
    compressRounds(schedule, IV, 0, constantRounds, roundState);

    var firstShift = bits >= 32 ? 0 : 32 - bits;
    var secondShift = bits > 32 ? 64 - bits : 0;
    var iv0 = IV[0], iv1 = IV[1];
    var nonce = startNonce;
    var tries = 0;
    while (tries < maxTries) {
      compressRounds(schedule, roundState, constantRounds, 64, output);
      tries++;
      if (bits === 0 || ((iv0 + output[0] | 0) >>> firstShift) === 0 &&
          (bits <= 32 || ((iv1 + output[1] | 0) >>> secondShift) === 0)) {
        return { found: true, nonce: nonce, tries: tries };
      }
      if (nonce === MAX_NONCE) {
        throw new Error('no nonce below 2^53 solves puzzle ' + index);
      }
      nonce++;

      // Increment the decimal digits in place and repack only the words they touch.
      var pos = end - 1;
      while (pos >= start && block[pos] === 0x39) {
        block[pos] = 0x30;
        pos--;
      }
      if (pos >= start) {
        block[pos]++;
        packWords(block, schedule, pos >> 2, (end - 1) >> 2);
      } else {
        // All digits were 9: the nonce gains a digit, so the padding moves.
        block[start] = 0x31;
        block[end] = 0x30;
        end++;
        block[end] = 0x80;
        packWords(block, schedule, start >> 2, end >> 2);
        schedule[15] = end * 8;
      }
    }
    return { found: false, nonce: nonce, tries: tries };
  }

  /**
   * Creates a search over all puzzles of one challenge. Each call to
   * step(maxTries) hashes at most maxTries messages and returns whether every
   * puzzle is solved. Fields: done (puzzles solved), nonces, hashes (total).
   */
  function createSearch(salt, bits, puzzles) {
    checkInteger('puzzles', puzzles, 1, 1000);
    var search = { done: 0, total: puzzles, nonces: [], hashes: 0, nextNonce: 0 };
    search.step = function (maxTries) {
      var budget = maxTries;
      while (search.done < puzzles && budget > 0) {
        var result = solvePuzzle(salt, search.done, bits, search.nextNonce, budget);
        budget -= result.tries;
        search.hashes += result.tries;
        if (result.found) {
          search.nonces.push(result.nonce);
          search.done++;
          search.nextNonce = 0;
        } else {
          search.nextNonce = result.nonce;
        }
      }
      return search.done === puzzles;
    };
    return search;
  }

  root.challengeSolver = {
    digestHex: digestHex,
    solvePuzzle: solvePuzzle,
    createSearch: createSearch,
    MAX_NONCE: MAX_NONCE
  };
})(typeof self !== 'undefined' ? self : this);
