// Measures the widget's solver through the same code path the widget uses
// (challengeWidgetInternals.solve). Served from the repository root, so the
// widget files are same-origin and 'auto' mode picks the worker.js worker.
(function () {
  'use strict';

  var URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

  function randomSalt() {
    var bytes = crypto.getRandomValues(new Uint8Array(22));
    var salt = '';
    for (var i = 0; i < bytes.length; i++) salt += URL_SAFE[bytes[i] & 63];
    return salt;
  }

  function whenReady() {
    return new Promise(function (resolve) {
      (function poll() {
        var internals = window.challengeWidgetInternals;
        if (internals && internals.solve && internals.Widget) resolve(internals);
        else setTimeout(poll, 20);
      })();
    });
  }

  /**
   * Solves `runs` challenges of `puzzles` x `bits` in `mode` ('auto' or
   * 'main-thread') and resolves with one record per run: the salt, nonces,
   * hashes, solver placement, solve time inside the solver (ms) and the
   * time the page waited (wallMs).
   */
  window.runBench = function (mode, runs, bits, puzzles) {
    return whenReady().then(function (internals) {
      var records = [];
      function next() {
        if (records.length === runs) return records;
        var challenge = { salt: randomSalt(), bits: bits, puzzles: puzzles };
        var started = performance.now();
        return internals.solve(internals.base, challenge, mode, function () {}).promise.then(function (result) {
          records.push({
            salt: challenge.salt,
            nonces: result.nonces,
            hashes: result.hashes,
            solver: result.solver,
            ms: result.ms,
            wallMs: performance.now() - started
          });
          return next();
        });
      }
      return next();
    });
  };
})();
