/*
 * Script of the test host pages. It plays a portal that sends its form by
 * script: the submit handler stops the navigation and records the form data.
 * Callbacks and submissions go to window.widgetHost, and their counts to
 * data-* attributes of <html>, so that tests can wait for them with locators.
 */
(function () {
  'use strict';

  var counts = { token: 0, expired: 0, error: 0, submit: 0 };

  function fieldValue() {
    var field = document.querySelector('input[name="challenge-response"]');
    return field ? field.value : null;
  }

  function record(type, detail) {
    counts[type] += 1;
    window.widgetHost.events.push({ type: type, detail: detail, field: fieldValue() });
    document.documentElement.setAttribute('data-' + type + '-count', String(counts[type]));
  }

  window.widgetHost = {
    events: [],
    submissions: [],
    widgetId: null,
    onToken: function (token) { record('token', token); },
    // When readResponseOnExpiry is true, the expired callback records what
    // getResponse() returns during the callback.
    readResponseOnExpiry: false,
    onExpired: function () {
      var response = window.widgetHost.readResponseOnExpiry ? window.challengeWidget.getResponse() : null;
      record('expired', response);
    },
    onError: function (code, error) {
      record('error', { code: code, isError: error instanceof Error, errorCode: error.code });
    }
  };

  // Called by captcha.js through ?onload=renderWidget on the explicit page.
  // The page's own query string may set the solver option: ?solver=main-thread.
  window.renderWidget = function () {
    var solver = new URLSearchParams(window.location.search).get('solver');
    window.widgetHost.widgetId = window.challengeWidget.render('#verification', {
      callback: window.widgetHost.onToken,
      expiredCallback: window.widgetHost.onExpired,
      errorCallback: window.widgetHost.onError,
      solver: solver || undefined
    });
  };

  document.addEventListener('DOMContentLoaded', function () {
    var form = document.getElementById('booking');
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var data = {};
      new FormData(form).forEach(function (value, name) { data[name] = value; });
      window.widgetHost.submissions.push(data);
      record('submit', null);
    });
  });
})();
