/*
 * Lifetime of a widget's pass token: delivery into the hidden field,
 * renewal before expiry, and the token spent by a form submission. Adds its
 * methods to the Widget of widget.js, which loads first.
 */
(function (internals) {
  'use strict';

  var DEFAULT_TOKEN_SECONDS = 300;
  // A token is renewed this long before it expires: 10 % of its lifetime, at most 30 s.
  var MAX_RENEWAL_MARGIN_MS = 30000;
  // Renewals in a row without any interaction; an idle page then waits for the person.
  var MAX_AUTO_RENEWALS = 3;

  var Widget = internals.Widget;

  // The browser builds the form data set after the submit event, so the spent
  // token is cleared in a later task and still goes out with this submission.
  Widget.prototype.onSubmit = function () {
    var self = this;
    var token = this.token;
    setTimeout(function () {
      if (self.state === 'success' && self.token === token) {
        self.expireToken('spent');
      } else if (self.isBusy() && self.waiters.length > 0) {
        // A submit handler is waiting on execute(), so the coming token is for this submission.
        self.spendNextToken = true;
      }
    }, 0);
  };

  Widget.prototype.deliverToken = function (result) {
    var self = this;
    this.run = null;
    var expiry = internals.expiryTime(result, DEFAULT_TOKEN_SECONDS);
    var margin = Math.min(MAX_RENEWAL_MARGIN_MS, (expiry - result.receivedAt) * 0.1);
    this.token = result.pass_token;
    this.tokenDeadline = expiry - margin;
    this.input.value = this.token;
    this.tokenTimer = setTimeout(this.checkTokenExpiry.bind(this), Math.min(this.tokenDeadline - Date.now(), 0x7fffffff));
    if (result.solver) this.host.setAttribute('data-solver-used', result.solver);
    else this.host.removeAttribute('data-solver-used');
    this.setState('success', { message: this.text.success });

    var waiters = this.waiters;
    this.waiters = [];
    waiters.forEach(function (waiter) { waiter.resolve(self.token); });
    this.callPage('callback', [this.token]);
    if (this.spendNextToken) {
      this.spendNextToken = false;
      setTimeout(function () { if (self.state === 'success') self.expireToken('spent'); }, 0);
    }
  };

  Widget.prototype.checkTokenExpiry = function () {
    if (this.state === 'success' && Date.now() >= this.tokenDeadline) this.expireToken('expired');
  };

  // Clears a token that expired or was spent by a submission, then renews it
  // at once or on the next interaction. Other form fields are left untouched.
  Widget.prototype.expireToken = function (reason) {
    this.clearToken();
    if (reason === 'expired' && document.visibilityState === 'visible' && this.autoRenewals < MAX_AUTO_RENEWALS) {
      this.autoRenewals++;
      // Start first: a callback that reads getResponse() must see the new
      // check under way, not an expired success that would expire again.
      this.start(this.text.expired);
      this.callPage('expiredCallback', []);
      return;
    }
    this.setState('expired', { message: reason === 'spent' ? this.text.spent : this.text.waiting });
    this.callPage('expiredCallback', []);
  };

  Widget.prototype.clearToken = function () {
    clearTimeout(this.tokenTimer);
    this.token = '';
    this.tokenDeadline = 0;
    this.input.value = '';
  };
})(window.challengeWidgetInternals);
