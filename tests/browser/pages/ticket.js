/*
 * Risk ticket of the ticket test pages, taken from the page's query string
 * (?ticket=...), where a portal's back end would write it into the page.
 * Loaded right after the widget element, it sets data-risk-ticket before the
 * widget renders; ticket-option.html renders with the riskTicket option.
 */
(function () {
  'use strict';

  var ticket = new URLSearchParams(window.location.search).get('ticket') || '';
  var element = document.getElementById('verification');
  if (element && element.classList.contains('challenge-widget') && ticket) {
    element.setAttribute('data-risk-ticket', ticket);
  }

  // Called by captcha.js through ?onload=renderWithTicket on ticket-option.html.
  window.renderWithTicket = function () {
    window.widgetHost.widgetId = window.challengeWidget.render('#verification', {
      callback: window.widgetHost.onToken,
      riskTicket: ticket
    });
  };
})();
