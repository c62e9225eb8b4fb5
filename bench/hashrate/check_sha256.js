// Correctness checks of widgets/captcha/sha256.js against FIPS 180-4 test
// vectors, Node's crypto (OpenSSL) and Python's hashlib.
// Run: node bench/hashrate/check_sha256.js   (Node 20, python3 on PATH)
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { spawnSync } = require('node:child_process');

const SOURCE = path.join(__dirname, '..', '..', 'widgets', 'captcha', 'sha256.js');

function loadSolver() {
  const context = { self: {} };
  vm.createContext(context);
  vm.runInContext(fs.readFileSync(SOURCE, 'utf8'), context, { filename: SOURCE });
  return context.self.challengeSolver;
}

const solver = loadSolver();
// The solver runs in its own VM context, so its errors have that context's prototypes.
const RANGE_ERROR = { name: 'RangeError' };

function nodeHex(message) {
  return crypto.createHash('sha256').update(message, 'utf8').digest('hex');
}

function leadingZeroBits(hex) {
  let bits = 0;
  for (const char of hex) {
    const nibble = parseInt(char, 16);
    if (nibble === 0) {
      bits += 4;
      continue;
    }
    return bits + Math.clz32(nibble) - 28;
  }
  return bits;
}

// Deterministic pseudo-random numbers (xorshift32), so a failure can be replayed.
function randomGenerator(seed) {
  let state = seed >>> 0 || 1;
  return function next(limit) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % limit;
  };
}

const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function randomSalt(random) {
  let salt = '';
  for (let i = 0; i < 22; i++) salt += URL_SAFE[random(URL_SAFE.length)];
  return salt;
}

function randomPrintable(random, length) {
  let text = '';
  for (let i = 0; i < length; i++) text += String.fromCharCode(0x20 + random(0x5f));
  return text;
}

test('digest matches FIPS 180-4 vectors', () => {
  assert.equal(solver.digestHex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(solver.digestHex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(
    solver.digestHex('The quick brown fox jumps over the lazy dog'),
    'd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592'
  );
});

test('digest rejects messages over 55 bytes', () => {
  const twoBlockVector = 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq';
  assert.throws(() => solver.digestHex(twoBlockVector), RANGE_ERROR);
  assert.equal(solver.digestHex('x'.repeat(55)), nodeHex('x'.repeat(55)));
});

test('digest matches node crypto for every length', () => {
  const random = randomGenerator(12345);
  for (let round = 0; round < 40; round++) {
    for (let length = 0; length <= 55; length++) {
      const message = randomPrintable(random, length);
      assert.equal(solver.digestHex(message), nodeHex(message), JSON.stringify(message));
    }
  }
});

test('digest matches python hashlib', () => {
  const random = randomGenerator(777);
  const messages = [];
  for (let i = 0; i < 500; i++) {
    messages.push(randomSalt(random) + ':' + random(16) + ':' + random(2 ** 31) * random(2 ** 22));
  }
  const script = 'import hashlib, json, sys\n' +
    'print(json.dumps([hashlib.sha256(m.encode()).hexdigest() for m in json.load(sys.stdin)]))';
  const python = spawnSync('python3', ['-c', script], { input: JSON.stringify(messages), encoding: 'utf8' });
  assert.equal(python.status, 0, 'python3 failed: ' + python.stderr);
  const expected = JSON.parse(python.stdout);
  messages.forEach((message, i) => assert.equal(solver.digestHex(message), expected[i], message));
});

test('solvePuzzle returns the first solving nonce', () => {
  const random = randomGenerator(2024);
  // Starting nonces just below a change in digit count exercise the padding move.
  const starts = [0, 5, 9, 95, 990, 9990, 99990, 999990, 99999999990, 999999999999990];
  for (const start of starts) {
    const salt = randomSalt(random);
    const index = random(16);
    const bits = 8;
    const result = solver.solvePuzzle(salt, index, bits, start, 1e6);
    assert.equal(result.found, true);
    for (let nonce = start; nonce < result.nonce; nonce++) {
      const hex = nodeHex(salt + ':' + index + ':' + nonce);
      assert.ok(leadingZeroBits(hex) < bits, 'nonce ' + nonce + ' solves but was skipped');
    }
    const hex = nodeHex(salt + ':' + index + ':' + result.nonce);
    assert.ok(leadingZeroBits(hex) >= bits, 'nonce ' + result.nonce + ' does not solve');
    assert.equal(result.tries, result.nonce - start + 1);
  }
});

test('solvePuzzle handles every salt length', () => {
  // The salt length moves the nonce, so it changes how many rounds are precomputed.
  const random = randomGenerator(99);
  for (let length = 1; length <= 35; length++) {
    const salt = randomSalt(random).repeat(2).slice(0, length);
    const index = random(12);
    const result = solver.solvePuzzle(salt, index, 6, 90, 1e6);
    assert.equal(result.found, true);
    for (let nonce = 90; nonce <= result.nonce; nonce++) {
      const zeros = leadingZeroBits(nodeHex(salt + ':' + index + ':' + nonce));
      assert.equal(zeros >= 6, nonce === result.nonce, 'salt length ' + length + ', nonce ' + nonce);
    }
  }
});

test('solvePuzzle continues across maxTries slices', () => {
  const salt = 'AbCdEfGhIjKlMnOpQrStUv';
  const whole = solver.solvePuzzle(salt, 3, 12, 0, 1e7);
  let next = 0;
  let result;
  do {
    result = solver.solvePuzzle(salt, 3, 12, next, 97);
    next = result.nonce;
  } while (!result.found);
  assert.equal(result.nonce, whole.nonce);
});

test('solvePuzzle handles bits over 32', () => {
  // 2^-33 odds per try: no nonce in 1000 tries is expected to match.
  const result = solver.solvePuzzle('AbCdEfGhIjKlMnOpQrStUv', 0, 33, 0, 1000);
  assert.equal(result.found, false);
  assert.equal(result.nonce, 1000);
  assert.equal(result.tries, 1000);
});

test('solvePuzzle stops at the largest safe nonce', () => {
  const max = solver.MAX_NONCE;
  assert.equal(solver.solvePuzzle('AbCdEfGhIjKlMnOpQrStUv', 0, 0, max, 1).nonce, max);
  assert.throws(() => solver.solvePuzzle('AbCdEfGhIjKlMnOpQrStUv', 0, 64, max, 10), /2\^53/);
});

test('solvePuzzle rejects invalid arguments', () => {
  const salt = 'AbCdEfGhIjKlMnOpQrStUv';
  assert.throws(() => solver.solvePuzzle(salt, -1, 8, 0, 10), RANGE_ERROR);
  assert.throws(() => solver.solvePuzzle(salt, 0, 65, 0, 10), RANGE_ERROR);
  assert.throws(() => solver.solvePuzzle(salt, 0, 8, 1.5, 10), RANGE_ERROR);
  assert.throws(() => solver.solvePuzzle(salt, 0, 8, 0, 0), RANGE_ERROR);
  assert.throws(() => solver.solvePuzzle('x'.repeat(40), 0, 8, 0, 10), RANGE_ERROR);
  assert.throws(() => solver.solvePuzzle('sel\u00e9', 0, 8, 0, 10), RANGE_ERROR);
});

test('createSearch solves every puzzle', () => {
  const salt = 'ZyXwVuTsRqPoNmLkJiHgFe';
  const search = solver.createSearch(salt, 10, 6);
  while (!search.step(333));
  assert.equal(search.done, 6);
  assert.equal(search.nonces.length, 6);
  search.nonces.forEach((nonce, index) => {
    assert.ok(leadingZeroBits(nodeHex(salt + ':' + index + ':' + nonce)) >= 10, 'puzzle ' + index);
  });
  assert.ok(search.hashes >= 6);
});
