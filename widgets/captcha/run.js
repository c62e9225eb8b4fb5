/*
 * One attempt to obtain a pass token: take a challenge, solve it, send the
 * answer, and follow `expired` answers and `next` challenges within bounds.
 */
(function (internals) {
  'use strict';

  // A prefetched challenge with less time left than this is replaced before solving.
  var MIN_CHALLENGE_LIFETIME_MS = 15000;
  // Automatic new attempts after the service responds `expired` within one run.
  var MAX_EXPIRED_RETRIES = 2;
  // Bound on `next` challenges the service may chain after an answer.
  var MAX_CHAINED_CHALLENGES = 5;

  var WidgetError = internals.WidgetError;

  function delay(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  /** Sends POST /challenges for the widget's sitekey, action and language. */
  function fetchChallenge(options, signal) {
    var request = { sitekey: options.sitekey, action: options.action, lang: options.lang };
    return internals.service.createChallenge(options.api, request, signal);
  }

  /**
   * Starts a run. `prefetched` is a promise of a challenge fetched earlier, or
   * null. `waitMs` delays the first request (after a Retry-After).
   * `onProgress(fraction)` reports solving progress from 0 to 1. Returns
   * {promise, cancel}: the promise resolves with the answer response plus
   * `solver`, or rejects with a WidgetError. After cancel() it never settles.
   */
  function startRun(options, prefetched, waitMs, onProgress) {
    var controller = new AbortController();
    var run = { cancelled: false, solver: null };

    // Keeps a promise pending forever once the run is cancelled.
    function guard(promise) {
      return promise.then(function (value) {
        return run.cancelled ? new Promise(function () {}) : value;
      }, function (error) {
        if (run.cancelled) return new Promise(function () {});
        throw error;
      });
    }

    function takeChallenge() {
      var fetchNew = function () { return fetchChallenge(options, controller.signal); };
      if (!prefetched) return fetchNew();
      return prefetched.then(function (data) {
        // The form may have stayed untouched until this early challenge expired.
        var left = internals.expiryTime(data, 0) - Date.now();
        return left >= MIN_CHALLENGE_LIFETIME_MS ? data : fetchNew();
      }, fetchNew);
    }

    function solve(data) {
      var started = performance.now();
      onProgress(0);
      run.solver = internals.solve(options.base, data.challenge, options.solver, function (progress) {
        if (!run.cancelled) onProgress(progress.done / progress.total);
      });
      return run.solver.promise.then(function (result) {
        result.wallMs = performance.now() - started;
        return result;
      });
    }

    async function obtainToken() {
      if (waitMs > 0) await guard(delay(waitMs));
      var data = await guard(takeChallenge());
      var expiredRetries = 0;
      var chained = 0;
      for (;;) {
        var challenge = data.challenge;
        if (challenge.kind !== 'pow') {
          throw WidgetError('unsupported-challenge', 'challenge kind ' + JSON.stringify(challenge.kind) + ' is not supported');
        }
        if (typeof challenge.salt !== 'string' || typeof challenge.bits !== 'number' || typeof challenge.puzzles !== 'number') {
          throw WidgetError('service-error', 'the pow challenge is missing salt, bits or puzzles');
        }
        var solved = await guard(solve(data));
        var payload = {
          envelope: data.envelope,
          answer: { nonces: solved.nonces },
          // solve_ms is the time the person waited, worker start-up and fallbacks included.
          client: { solver: solved.solver, hash_rate: Math.round(solved.hashRate), solve_ms: Math.round(solved.wallMs) }
        };
        var result;
        try {
          result = await guard(internals.service.postAnswer(options.api, data.challenge_id, payload, controller.signal));
        } catch (error) {
          if (error.code !== 'expired' || expiredRetries >= MAX_EXPIRED_RETRIES) throw error;
          expiredRetries++;
          console.info('challenge widget: challenge ' + data.challenge_id + ' expired before the answer, fetching a new one');
          data = await guard(fetchChallenge(options, controller.signal));
          continue;
        }
        if (!result.next) {
          result.solver = solved.solver;
          return result;
        }
        chained++;
        if (chained > MAX_CHAINED_CHALLENGES) {
          throw WidgetError('challenge-failed', 'the service chained more than ' + MAX_CHAINED_CHALLENGES + ' challenges');
        }
        data = result.next;
      }
    }

    return {
      promise: guard(obtainToken()),
      cancel: function () {
        run.cancelled = true;
        controller.abort();
        if (run.solver) run.solver.cancel();
      }
    };
  }

  internals.startRun = startRun;
})(window.challengeWidgetInternals);
