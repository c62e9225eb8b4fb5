/*
 * HTTP client for the challenge service API and the widget's error type.
 * Requests carry no cookies (credentials: 'omit') and time out after
 * REQUEST_TIMEOUT_MS.
 */
(function (internals) {
  'use strict';

  var REQUEST_TIMEOUT_MS = 15000;

  // Service error codes of the answer and replace endpoints that mean "this answer cannot pass".
  var REJECTED_ANSWER_CODES = ['wrong-answer', 'already-answered', 'invalid-envelope', 'unknown-challenge'];

  /**
   * Error with a `code` from the closed list in captcha.d.ts. `status`,
   * `serviceError` (the service's own `error` code) and `retryAfter`
   * (seconds) are set when the service sent them. Answers rejected with 422
   * also carry `attemptsLeft` and `next` (wrong-answer) or `retryAfterMs`
   * (too-early).
   */
  function WidgetError(code, message, details) {
    var error = new Error(message);
    error.name = 'ChallengeWidgetError';
    error.code = code;
    if (details) {
      for (var key in details) {
        if (Object.prototype.hasOwnProperty.call(details, key)) error[key] = details[key];
      }
    }
    return error;
  }

  // Parses Retry-After, either delay-seconds or an HTTP date, into seconds.
  function parseRetryAfter(value) {
    if (!value) return null;
    if (/^\d+$/.test(value.trim())) return parseInt(value, 10);
    var date = Date.parse(value);
    if (isNaN(date)) return null;
    return Math.max(0, Math.ceil((date - Date.now()) / 1000));
  }

  function errorFromResponse(response, body, endpoint) {
    var serviceError = body && typeof body.error === 'string' ? body.error : null;
    var message = body && typeof body.message === 'string' ? body.message : 'HTTP ' + response.status;
    var details = { status: response.status, serviceError: serviceError };
    if (response.status === 429 || response.status === 503) {
      details.retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
      return WidgetError('rate-limited', message, details);
    }
    if (endpoint === 'create') return WidgetError('service-error', message, details);
    if (serviceError === 'expired') {
      return WidgetError('expired', message, details);
    }
    if (serviceError === 'wrong-answer') {
      // attemptsLeft is null for kinds without a limit; `next` replaces the
      // challenge once no attempt is left.
      details.attemptsLeft = typeof body.attempts_left === 'number' ? body.attempts_left : null;
      details.next = body.next && typeof body.next === 'object' ? checkChallenge(body.next) : null;
    }
    if (serviceError === 'too-early') {
      details.retryAfterMs = typeof body.retry_after_ms === 'number' ? Math.max(0, body.retry_after_ms) : 1000;
    }
    if (REJECTED_ANSWER_CODES.indexOf(serviceError) >= 0) {
      return WidgetError('challenge-failed', message, details);
    }
    return WidgetError('service-error', message, details);
  }

  /**
   * Sends a JSON POST and resolves with the parsed JSON body of a 2xx
   * response. Rejects with a WidgetError: `network-error` when the request
   * fails, times out or the body is not JSON, otherwise the code for the
   * HTTP status (see errorFromResponse). `signal` aborts the request.
   */
  function postJson(url, payload, endpoint, signal) {
    var controller = new AbortController();
    var timedOut = false;
    var timer = setTimeout(function () {
      timedOut = true;
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    var onAbort = function () { controller.abort(); };
    if (signal) signal.addEventListener('abort', onAbort);

    function cleanUp() {
      clearTimeout(timer);
      if (signal) signal.removeEventListener('abort', onAbort);
    }

    return fetch(url, {
      method: 'POST',
      mode: 'cors',
      credentials: 'omit',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      signal: controller.signal
    }).then(function (response) {
      return response.json().then(function (body) {
        return { response: response, body: body };
      }, function () {
        return { response: response, body: null };
      });
    }).then(function (result) {
      cleanUp();
      if (result.response.ok && result.body !== null && typeof result.body === 'object') {
        return result.body;
      }
      if (result.response.ok) {
        throw WidgetError('network-error', url + ' returned a body that is not a JSON object');
      }
      throw errorFromResponse(result.response, result.body, endpoint);
    }, function (error) {
      cleanUp();
      var reason = timedOut ? 'timed out after ' + REQUEST_TIMEOUT_MS + ' ms' : String(error && error.message);
      throw WidgetError('network-error', 'request to ' + url + ' failed: ' + reason);
    });
  }

  /**
   * Checks the fields the widget relies on in a challenge (the 201 body of
   * POST /challenges, or the `next` object of an answer) and adds `receivedAt`.
   */
  function checkChallenge(data) {
    var ok = data && typeof data.challenge_id === 'string' && data.challenge_id &&
      typeof data.envelope === 'string' && data.challenge && typeof data.challenge.kind === 'string';
    if (!ok) {
      throw WidgetError('service-error', 'the challenge response is missing challenge_id, envelope or challenge.kind');
    }
    data.receivedAt = Date.now();
    return data;
  }

  /**
   * Returns when a challenge or pass token expires, in ms since the epoch on
   * this device's clock. expires_in is preferred over expires_at because it
   * does not depend on the device's clock being right.
   */
  function expiryTime(data, fallbackSeconds) {
    if (typeof data.expires_in === 'number' && data.expires_in >= 0) {
      return data.receivedAt + data.expires_in * 1000;
    }
    var expiresAt = Date.parse(data.expires_at);
    if (!isNaN(expiresAt)) return expiresAt;
    return data.receivedAt + fallbackSeconds * 1000;
  }

  internals.WidgetError = WidgetError;
  internals.expiryTime = expiryTime;

  internals.service = {
    /**
     * Returns the body of POST /challenges for a widget's options. The risk
     * ticket is read at each request, so a page can refresh data-risk-ticket
     * before the ticket expires.
     */
    challengeRequest: function (options) {
      var request = { sitekey: options.sitekey, action: options.action, lang: options.lang };
      var ticket = options.readRiskTicket();
      if (ticket) request.risk_ticket = ticket;
      return request;
    },

    createChallenge: function (api, request, signal) {
      return postJson(api + '/api/v1/challenges', request, 'create', signal).then(checkChallenge);
    },
    /**
     * Sends an answer. Resolves with {next: challenge} when the flow has
     * another step, or with the pass token response after the last step.
     */
    postAnswer: function (api, challengeId, payload, signal) {
      var url = challengeUrl(api, challengeId, 'answer');
      return postJson(url, payload, 'answer', signal).then(function (body) {
        if (body.result === 'next') {
          return { next: checkChallenge(body) };
        }
        if (typeof body.pass_token !== 'string' || !body.pass_token) {
          throw WidgetError('service-error', 'the answer response has neither a pass_token nor result "next"');
        }
        body.receivedAt = Date.now();
        return body;
      });
    },

    /** Swaps a challenge for one of its alternatives; resolves with the new challenge. */
    replaceChallenge: function (api, challengeId, payload, signal) {
      var url = challengeUrl(api, challengeId, 'replace');
      return postJson(url, payload, 'replace', signal).then(checkChallenge);
    }
  };

  function challengeUrl(api, challengeId, action) {
    return api + '/api/v1/challenges/' + encodeURIComponent(challengeId) + '/' + action;
  }

  /**
   * Returns the absolute URL of a media path that the service sent, such as
   * image_url, which is relative to the service's origin.
   */
  internals.serviceUrl = function (api, path) {
    return new URL(path, api + '/').href;
  };
})(window.challengeWidgetInternals);
