/*
 * Web Worker entry of the proof-of-work solver. Started either from its own
 * URL (same origin as the page) or from a blob: URL whose source is sha256.js
 * followed by this file, in which case challengeSolver already exists.
 *
 * Messages in:  {type: 'solve', salt, bits, puzzles}
 * Messages out: {type: 'ready'} once loaded,
 *               {type: 'progress', done, total, hashes, hashRate},
 *               {type: 'done', nonces, hashes, ms, hashRate},
 *               {type: 'error', message}.
 */
(function () {
  'use strict';

  if (!self.challengeSolver) {
    importScripts('sha256.js');
  }

  // About 5 ms of hashing at 4 M hashes/s, so progress stays fresh at little cost.
  var STEP_TRIES = 20000;
  var PROGRESS_INTERVAL_MS = 100;

  function solve(job) {
    var search = self.challengeSolver.createSearch(job.salt, job.bits, job.puzzles);
    var started = performance.now();
    var lastReport = started;
    var lastDone = 0;
    var finished = false;
    while (!finished) {
      finished = search.step(STEP_TRIES);
      var now = performance.now();
      if (!finished && (search.done !== lastDone || now - lastReport >= PROGRESS_INTERVAL_MS)) {
        lastDone = search.done;
        lastReport = now;
        self.postMessage({
          type: 'progress',
          done: search.done,
          total: search.total,
          hashes: search.hashes,
          hashRate: search.hashes / Math.max(now - started, 1) * 1000
        });
      }
    }
    var ms = performance.now() - started;
    self.postMessage({
      type: 'done',
      nonces: search.nonces,
      hashes: search.hashes,
      ms: ms,
      hashRate: search.hashes / Math.max(ms, 1) * 1000
    });
  }

  self.onmessage = function (event) {
    var job = event.data;
    if (!job || job.type !== 'solve') return;
    try {
      solve(job);
    } catch (error) {
      self.postMessage({ type: 'error', message: String(error && error.message || error) });
    }
  };

  self.postMessage({ type: 'ready' });
})();
