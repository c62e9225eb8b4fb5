/*
 * Keeps the risk ticket of the booking form's widget valid while the page
 * stays open. The widget reads data-risk-ticket at each challenge request,
 * and a ticket expires a few minutes after the portal requested it, so a
 * person who takes longer to fill in the form would otherwise send an expired
 * one. This script writes a new ticket into the attribute before that.
 *
 * It changes nothing that a person sees or hears: no text, no focus, no
 * live region. Without JavaScript neither this script nor the widget runs,
 * and the page shows its other ways to book.
 */
(function () {
  'use strict';

  // Share of a ticket's lifetime after which the script requests the next one.
  var REFRESH_SHARE = 0.8;

  // Seconds before the first retry after a failure. Each retry doubles the
  // delay, up to the maximum.
  var FIRST_RETRY_SECONDS = 2;
  var MAX_RETRY_SECONDS = 60;

  // The portal's ticket endpoint rejects requests without this header, which
  // a page of another origin cannot send (see challenge_service/demo/security.py).
  var SCRIPT_HEADERS = { 'X-Requested-With': 'fetch', 'Accept': 'application/json' };

  function ticketError(message, status, retryAfterSeconds) {
    var error = new Error(message);
    error.status = status;
    error.retryAfterSeconds = retryAfterSeconds;
    return error;
  }

  // Returns the ticket and its lifetime from the endpoint's response.
  function readTicket(response) {
    if (!response.ok) {
      var retryAfter = Number(response.headers.get('Retry-After'));
      throw ticketError('HTTP ' + response.status, response.status, retryAfter > 0 ? retryAfter : 0);
    }
    return response.json().then(function (body) {
      if (!body || typeof body.risk_ticket !== 'string' || !body.risk_ticket || !(body.expires_in > 0)) {
        throw ticketError('response has no valid risk_ticket and expires_in', response.status, 0);
      }
      return body;
    });
  }

  // A 4xx other than 429 means the request itself is wrong, for example a
  // deleted household cookie, so a new request would fail the same way.
  function isFinal(error) {
    return error.status >= 400 && error.status < 500 && error.status !== 429;
  }

  function keepFresh(widget) {
    var url = widget.getAttribute('data-ticket-refresh-url');
    var retrySeconds = FIRST_RETRY_SECONDS;
    var timer = null;
    var dueAt = 0;
    var pending = false;
    var stopped = false;

    function schedule(seconds) {
      clearTimeout(timer);
      // Date.now() goes on during system sleep, when timers stop.
      dueAt = Date.now() + seconds * 1000;
      timer = setTimeout(refresh, seconds * 1000);
    }

    function refresh() {
      if (pending || stopped) return;
      pending = true;
      fetch(url, { credentials: 'same-origin', cache: 'no-store', headers: SCRIPT_HEADERS })
        .then(readTicket)
        .then(function (body) {
          widget.setAttribute('data-risk-ticket', body.risk_ticket);
          retrySeconds = FIRST_RETRY_SECONDS;
          schedule(body.expires_in * REFRESH_SHARE);
        })
        .catch(function (error) {
          // The message names the HTTP status or the failure, never the ticket.
          console.warn('risk ticket refresh failed: ' + error.message);
          if (isFinal(error)) {
            stopped = true;
            return;
          }
          schedule(Math.max(retrySeconds, error.retryAfterSeconds || 0));
          retrySeconds = Math.min(retrySeconds * 2, MAX_RETRY_SECONDS);
        })
        .then(function () { pending = false; });
    }

    // Browsers slow down or pause timers in hidden tabs and during sleep, so
    // a page that comes back checks whether its refresh is overdue.
    // NOTE: a challenge request in the moment before the overdue ticket
    // arrives still sends the expired one, and the widget offers a retry.
    function refreshIfDue() {
      if (document.visibilityState === 'visible' && Date.now() >= dueAt) refresh();
    }

    document.addEventListener('visibilitychange', refreshIfDue);
    window.addEventListener('pageshow', refreshIfDue);

    var lifetime = Number(widget.getAttribute('data-ticket-expires-in'));
    // A page rendered without a ticket requests one at once.
    schedule(lifetime > 0 ? lifetime * REFRESH_SHARE : 0);
  }

  var widgets = document.querySelectorAll('.challenge-widget[data-ticket-refresh-url]');
  for (var i = 0; i < widgets.length; i++) keepFresh(widgets[i]);
})();
