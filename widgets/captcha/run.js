/*
 * One attempt to obtain a pass token: take a challenge, pass each of its
 * steps (proof of work, or a step view that needs the person), send the
 * answers, and follow `expired` answers, `next` steps, wrong answers,
 * too-early answers and replacements within bounds.
 */
(function (internals) {
  'use strict';

  // A prefetched challenge with less time left than this is replaced before solving.
  var MIN_CHALLENGE_LIFETIME_MS = 15000;
  // Automatic new attempts after the service responds `expired` within one run.
  var MAX_EXPIRED_RETRIES = 2;
  // Bound on `next` steps the service may chain after answers.
  var MAX_CHAINED_CHALLENGES = 5;
  // Resends of the same answer after `too-early`, which network delays cause:
  // the service measures waits on its own clock from the time it issued the step.
  var MAX_TOO_EARLY_RESENDS = 2;
  // Longest pause before a resend; the service never asks for a longer wait.
  var MAX_TOO_EARLY_PAUSE_MS = 60000;
  // Added to the pause the service asks for, so that the resend arrives after it.
  var TOO_EARLY_MARGIN_MS = 100;

  var WidgetError = internals.WidgetError;

  function delay(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  /** Sends POST /challenges for the widget's sitekey, action, language and risk ticket. */
  function fetchChallenge(options, signal) {
    return internals.service.createChallenge(options.api, internals.service.challengeRequest(options), signal);
  }

  function checkPow(challenge) {
    if (typeof challenge.salt !== 'string' || typeof challenge.bits !== 'number' || typeof challenge.puzzles !== 'number') {
      throw WidgetError('service-error', 'the pow challenge is missing salt, bits or puzzles');
    }
  }

  /**
   * Starts a run. `prefetched` is a promise of a challenge fetched earlier, or
   * null. `waitMs` delays the first request (after a Retry-After). `hooks`
   * connects the run to its widget:
   * - onProgress(fraction): proof-of-work progress from 0 to 1;
   * - showWork(data): a proof-of-work step starts;
   * - showStep(data, previousView, notice): shows the view of a step that
   *   needs the person and returns it (see steps.js). `notice` is null,
   *   'next' or 'out-of-attempts'.
   * Returns {promise, cancel}: the promise resolves with the answer response
   * plus `solver`, or rejects with a WidgetError. After cancel() it never settles.
   */
  function startRun(options, prefetched, waitMs, hooks) {
    var controller = new AbortController();
    var run = { cancelled: false, solver: null, view: null };

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
      hooks.onProgress(0);
      run.solver = internals.solve(options.base, data.challenge, options.solver, function (progress) {
        if (!run.cancelled) hooks.onProgress(progress.done / progress.total);
      });
      return run.solver.promise.then(function (result) {
        result.wallMs = performance.now() - started;
        return result;
      });
    }

    // Sends an answer, and sends it again after the pause a `too-early` response asks for.
    async function sendAnswer(data, payload) {
      for (var resends = 0; ; resends++) {
        try {
          return await guard(internals.service.postAnswer(options.api, data.challenge_id, payload, controller.signal));
        } catch (error) {
          if (error.serviceError !== 'too-early' || resends >= MAX_TOO_EARLY_RESENDS) throw error;
          console.info('challenge widget: challenge ' + data.challenge_id + ' answered too early, resending in ' + error.retryAfterMs + ' ms');
          await guard(delay(Math.min(error.retryAfterMs, MAX_TOO_EARLY_PAUSE_MS) + TOO_EARLY_MARGIN_MS));
        }
      }
    }

    // Returns the payload of a proof-of-work answer.
    async function solvePow(data) {
      checkPow(data.challenge);
      run.view = null;
      hooks.showWork(data);
      var solved = await guard(solve(data));
      run.lastSolver = solved.solver;
      return {
        envelope: data.envelope,
        answer: { nonces: solved.nonces },
        // solve_ms is the time the person waited, worker start-up and fallbacks included.
        client: { solver: solved.solver, hash_rate: Math.round(solved.hashRate), solve_ms: Math.round(solved.wallMs) }
      };
    }

    async function obtainToken() {
      if (waitMs > 0) await guard(delay(waitMs));
      var data = await guard(takeChallenge());
      var expiredRetries = 0;
      var chained = 0;
      var notice = null;
      var sameStep = false;
      for (;;) {
        var payload;
        if (data.challenge.kind === 'pow') {
          payload = await solvePow(data);
        } else {
          // After a wrong answer the same view stays and waits for the next try.
          if (!sameStep) run.view = hooks.showStep(data, run.view, notice);
          sameStep = false;
          notice = null;
          var action = await guard(run.view.next());
          if (action.alternative) {
            try {
              data = await guard(internals.service.replaceChallenge(options.api, data.challenge_id,
                { envelope: data.envelope, alternative: action.alternative }, controller.signal));
            } catch (error) {
              if (error.code !== 'expired' || expiredRetries >= MAX_EXPIRED_RETRIES) throw error;
              expiredRetries++;
              data = await guard(fetchChallenge(options, controller.signal));
            }
            continue;
          }
          run.view.sending();
          payload = { envelope: data.envelope, answer: action.answer };
        }

        var result;
        try {
          result = await sendAnswer(data, payload);
        } catch (error) {
          if (error.code === 'expired' && expiredRetries < MAX_EXPIRED_RETRIES) {
            expiredRetries++;
            console.info('challenge widget: challenge ' + data.challenge_id + ' expired before the answer, fetching a new one');
            data = await guard(fetchChallenge(options, controller.signal));
            continue;
          }
          if (error.serviceError !== 'wrong-answer' || data.challenge.kind === 'pow') throw error;
          if (error.next) {
            // No attempt is left: the service replaced the step, with a wait.
            chained++;
            if (chained > MAX_CHAINED_CHALLENGES) throw tooManySteps();
            data = error.next;
            notice = 'out-of-attempts';
            continue;
          }
          // A wait asks nothing, so a rejected wait would only be sent again
          // and again; the run ends with the error instead.
          if (error.attemptsLeft === 0 || !run.view.wrong) throw error;
          run.view.wrong(error.attemptsLeft);
          sameStep = true;
          continue;
        }

        if (!result.next) {
          result.solver = run.lastSolver || null;
          return result;
        }
        chained++;
        if (chained > MAX_CHAINED_CHALLENGES) throw tooManySteps();
        data = result.next;
        notice = 'next';
      }
    }

    function tooManySteps() {
      return WidgetError('challenge-failed', 'the service chained more than ' + MAX_CHAINED_CHALLENGES + ' challenges');
    }

    return {
      promise: guard(obtainToken()),
      cancel: function () {
        run.cancelled = true;
        controller.abort();
        if (run.solver) run.solver.cancel();
        if (run.view) run.view.destroy();
      }
    };
  }

  internals.startRun = startRun;
})(window.challengeWidgetInternals);
