/*
 * Placement of the proof-of-work solver. Browsers start a Web Worker only
 * from a same-origin URL or a blob: URL, and a blob: worker is subject to the
 * page's CSP (worker-src, else child-src, else script-src). The order is:
 * same-origin worker.js, then a blob: worker built from the fetched sources,
 * then time-sliced solving on the main thread.
 */
(function (internals) {
  'use strict';

  var STARTUP_TIMEOUT_MS = 5000;
  // Each main-thread slice hashes for about this long before yielding.
  var SLICE_MS = 10;
  var PROGRESS_INTERVAL_MS = 100;

  // Placements that failed to start stay skipped for the life of the page,
  // so a CSP that blocks blob: workers reports one violation, not one per solve.
  var failedPlacements = {};
  var blobUrlPromise = null;
  var solverScriptPromise = null;

  function noop() {}

  function pending() {
    return new Promise(noop);
  }

  // kind is 'startup' (the placement could not start), 'unavailable' (its
  // files did not load, which may be temporary) or 'crash'.
  function placementError(kind, message) {
    var error = new Error(message);
    error.kind = kind;
    return error;
  }

  function fetchText(url) {
    return fetch(url, { mode: 'cors', credentials: 'omit' }).then(function (response) {
      if (!response.ok) throw new Error(url + ' returned HTTP ' + response.status);
      return response.text();
    });
  }

  function blobWorkerUrl(base) {
    if (!blobUrlPromise) {
      blobUrlPromise = Promise.all([fetchText(base + 'sha256.js'), fetchText(base + 'worker.js')])
        .then(function (sources) {
          var blob = new Blob([sources[0], '\n', sources[1]], { type: 'text/javascript' });
          return URL.createObjectURL(blob);
        });
      // A failed fetch may succeed later, so it is not cached.
      blobUrlPromise.catch(function () { blobUrlPromise = null; });
    }
    return blobUrlPromise;
  }

  /**
   * Runs the job in a worker started from `url`. Rejects with kind 'startup'
   * when the worker cannot start (CSP, load error, no 'ready' message in
   * time) and kind 'crash' when it fails after starting.
   */
  function runWorker(url, job, onProgress, handle) {
    return new Promise(function (resolve, reject) {
      var worker;
      try {
        worker = new Worker(internals.trustedScriptUrl(url));
      } catch (error) {
        // A URL of another origin throws a SecurityError, and a string URL under
        // enforced Trusted Types throws a TypeError.
        reject(placementError('startup', 'new Worker failed: ' + error));
        return;
      }
      var started = false;
      var timer = setTimeout(function () {
        fail('startup', 'the worker sent no ready message within ' + STARTUP_TIMEOUT_MS + ' ms');
      }, STARTUP_TIMEOUT_MS);

      function stop() {
        clearTimeout(timer);
        worker.terminate();
      }

      function fail(kind, message) {
        stop();
        reject(placementError(kind, message));
      }

      handle.cancel = stop;
      worker.onmessage = function (event) {
        var message = event.data || {};
        if (message.type === 'ready') {
          started = true;
          clearTimeout(timer);
          worker.postMessage(job);
        } else if (message.type === 'progress') {
          onProgress(message);
        } else if (message.type === 'done') {
          stop();
          resolve(message);
        } else if (message.type === 'error') {
          fail('crash', 'the worker failed: ' + message.message);
        }
      };
      worker.onerror = function (event) {
        event.preventDefault();
        fail(started ? 'crash' : 'startup', 'worker error: ' + (event.message || 'the script failed to load'));
      };
    });
  }

  function loadSolverScript(base) {
    if (window.challengeSolver) return Promise.resolve();
    if (!solverScriptPromise) {
      solverScriptPromise = internals.loadScript(base + 'sha256.js');
      solverScriptPromise.catch(function () { solverScriptPromise = null; });
    }
    return solverScriptPromise;
  }

  /**
   * Runs the job on the main thread in slices of about SLICE_MS, yielding
   * through a MessageChannel between slices so input and rendering go on.
   */
  function runMainThread(base, job, onProgress, handle) {
    return loadSolverScript(base).catch(function (error) {
      throw placementError('unavailable', 'sha256.js did not load: ' + error);
    }).then(function () {
      return new Promise(function (resolve, reject) {
        var channel = new MessageChannel();
        var started = performance.now();
        var lastReport = started;
        var lastDone = 0;
        var tries = 5000;
        var search;

        handle.cancel = function () { channel.port1.close(); };
        channel.port1.onmessage = function () {
          var sliceStart = performance.now();
          var finished;
          try {
            search = search || window.challengeSolver.createSearch(job.salt, job.bits, job.puzzles);
            finished = search.step(tries);
          } catch (error) {
            channel.port1.close();
            reject(placementError('crash', 'the solver failed: ' + error));
            return;
          }
          var now = performance.now();
          var elapsed = Math.max(now - started, 1);
          if (finished) {
            channel.port1.close();
            resolve({ nonces: search.nonces, hashes: search.hashes, ms: elapsed, hashRate: search.hashes / elapsed * 1000 });
            return;
          }
          // Scale the next slice toward SLICE_MS from the speed of this one.
          var spent = Math.max(now - sliceStart, 0.5);
          tries = Math.min(400000, Math.max(1000, Math.round(tries * SLICE_MS / spent)));
          if (search.done !== lastDone || now - lastReport >= PROGRESS_INTERVAL_MS) {
            lastDone = search.done;
            lastReport = now;
            onProgress({ done: search.done, total: search.total, hashes: search.hashes, hashRate: search.hashes / elapsed * 1000 });
          }
          channel.port2.postMessage(null);
        };
        channel.port2.postMessage(null);
      });
    });
  }

  function runPath(path, base, job, onProgress, handle) {
    if (path === 'worker') return runWorker(base + 'worker.js', job, onProgress, handle);
    if (path === 'blob-worker') {
      return blobWorkerUrl(base).catch(function (error) {
        throw placementError('unavailable', 'the worker source did not load: ' + error);
      }).then(function (url) {
        return handle.cancelled ? pending() : runWorker(url, job, onProgress, handle);
      });
    }
    return runMainThread(base, job, onProgress, handle);
  }

  /**
   * Solves a `pow` challenge object ({salt, bits, puzzles}). `mode` is 'auto'
   * or 'main-thread'. Returns {promise, cancel}: the promise resolves with
   * {nonces, hashes, ms, hashRate, solver} or rejects with a `solver-failed`
   * WidgetError. After cancel() it never settles.
   */
  internals.solve = function (base, challenge, mode, onProgress) {
    var handle = { cancelled: false, cancel: noop };
    var job = { type: 'solve', salt: challenge.salt, bits: challenge.bits, puzzles: challenge.puzzles };
    var paths = mode === 'main-thread' ? ['main-thread'] : ['worker', 'blob-worker', 'main-thread'];
    paths = paths.filter(function (path) {
      if (path === 'worker' && !internals.isSameOrigin(base + 'worker.js')) return false;
      return path === 'main-thread' || !failedPlacements[path];
    });
    var crashes = 0;

    function attempt(index, lastError) {
      if (handle.cancelled) return pending();
      if (index >= paths.length) {
        return Promise.reject(internals.WidgetError('solver-failed', 'no solver could run: ' + lastError.message));
      }
      var path = paths[index];
      return runPath(path, base, job, onProgress, handle).then(function (result) {
        result.solver = path;
        return result;
      }, function (error) {
        if (handle.cancelled) return pending();
        if (error.kind === 'startup') {
          failedPlacements[path] = true;
        } else if (error.kind === 'crash') {
          // A crash is retried once, on the next placement.
          crashes++;
          if (crashes > 1) {
            throw internals.WidgetError('solver-failed', 'the solver failed twice: ' + error.message);
          }
        }
        console.warn('challenge widget: solver placement ' + path + ' failed, trying the next one:', error.message);
        return attempt(index + 1, error);
      });
    }

    return {
      promise: attempt(0, null),
      cancel: function () {
        handle.cancelled = true;
        handle.cancel();
      }
    };
  };
})(window.challengeWidgetInternals);
