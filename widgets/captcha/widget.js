/*
 * One rendered widget: the hidden form field, the triggers that start a run
 * (run.js), the page callbacks and the pass token's lifetime.
 * States (data-state on the host element): idle, working, success, error,
 * expired.
 */
(function (internals) {
  'use strict';

  var DEFAULT_TOKEN_SECONDS = 300;
  // A token is renewed this long before it expires: 10 % of its lifetime, at most 30 s.
  var MAX_RENEWAL_MARGIN_MS = 30000;
  // Renewals in a row without any interaction; an idle page then waits for the person.
  var MAX_AUTO_RENEWALS = 3;

  var WidgetError = internals.WidgetError;

  function noop() {}

  // Looks up a dotted global name such as "onToken" or "booking.onToken" on window.
  function lookUpGlobal(name) {
    var value = window;
    var parts = name.split('.');
    for (var i = 0; i < parts.length && value != null; i++) value = value[parts[i]];
    return value;
  }

  function Widget(id, host, options) {
    this.id = id;
    this.host = host;
    this.options = options;
    this.text = internals.messages(options.lang);
    this.state = null;
    this.token = '';
    this.tokenDeadline = 0;
    this.tokenTimer = null;
    this.run = null;
    this.waiters = [];
    this.prefetched = null;
    this.prefetchController = null;
    this.autoRenewals = 0;
    this.spendNextToken = false;
    this.retryAt = 0;
    this.visible = false;
    this.halfAnnounced = false;

    // The field lives in the host's light DOM so that the enclosing form submits it.
    this.input = document.createElement('input');
    this.input.type = 'hidden';
    this.input.name = options.responseFieldName;
    host.appendChild(this.input);
    this.view = internals.createView(host, options.base, options.lang, this.onButton.bind(this));
    this.listen();
    if (options.problem) {
      this.fail(WidgetError('invalid-options', options.problem));
      return;
    }
    this.setState('idle', { message: this.text.idle });
    this.prefetch();
  }

  Widget.prototype.listen = function () {
    var self = this;
    this.form = this.host.closest('form');
    var target = this.form || this.host;
    var onInteraction = this.onInteraction.bind(this);
    var onSubmit = this.onSubmit.bind(this);
    var onVisibilityChange = function () {
      if (document.visibilityState !== 'visible') return;
      self.checkTokenExpiry();
      self.startIfVisible();
    };
    ['focusin', 'pointerdown', 'keydown'].forEach(function (type) {
      target.addEventListener(type, onInteraction);
    });
    if (this.form) this.form.addEventListener('submit', onSubmit);
    document.addEventListener('visibilitychange', onVisibilityChange);

    var observer = null;
    if (typeof IntersectionObserver === 'function') {
      observer = new IntersectionObserver(function (entries) {
        self.visible = entries[entries.length - 1].isIntersecting;
        self.startIfVisible();
      });
      observer.observe(this.host);
    } else {
      this.visible = true;
      setTimeout(function () { self.startIfVisible(); }, 0);
    }

    this.unlisten = function () {
      ['focusin', 'pointerdown', 'keydown'].forEach(function (type) {
        target.removeEventListener(type, onInteraction);
      });
      if (self.form) self.form.removeEventListener('submit', onSubmit);
      document.removeEventListener('visibilitychange', onVisibilityChange);
      if (observer) observer.disconnect();
    };
  };

  Widget.prototype.setState = function (state, detail) {
    this.state = state;
    this.view.setState(state, detail);
  };

  // Fetches a challenge at render time; the proof of work waits for a trigger.
  Widget.prototype.prefetch = function () {
    var request = { sitekey: this.options.sitekey, action: this.options.action, lang: this.options.lang };
    this.prefetchController = new AbortController();
    this.prefetched = internals.service.createChallenge(this.options.api, request, this.prefetchController.signal);
    this.prefetched.catch(noop);
  };

  Widget.prototype.onInteraction = function () {
    this.autoRenewals = 0;
    this.checkTokenExpiry();
    if (this.state === 'idle' || this.state === 'expired') this.start();
  };

  Widget.prototype.startIfVisible = function () {
    if (this.state === 'idle' && this.visible && document.visibilityState === 'visible') this.start();
  };

  Widget.prototype.onButton = function () {
    this.autoRenewals = 0;
    if (this.state !== 'working' && this.state !== 'success') this.start();
  };

  // The browser builds the form data set after the submit event, so the spent
  // token is cleared in a later task and still goes out with this submission.
  Widget.prototype.onSubmit = function () {
    var self = this;
    var token = this.token;
    setTimeout(function () {
      if (self.state === 'success' && self.token === token) {
        self.expireToken('spent');
      } else if (self.state === 'working' && self.waiters.length > 0) {
        // A submit handler is waiting on execute(), so the coming token is for this submission.
        self.spendNextToken = true;
      }
    }, 0);
  };

  /** Starts fetching and solving unless a run is already going on. */
  Widget.prototype.start = function (message) {
    if (this.state === 'working') return;
    var self = this;
    this.cancelRun();
    this.clearToken();
    if (this.options.problem) {
      this.fail(WidgetError('invalid-options', this.options.problem));
      return;
    }
    var prefetched = this.prefetched;
    this.prefetched = null;
    this.halfAnnounced = false;
    this.setState('working', { message: message || this.text.working });
    var run = internals.startRun(this.options, prefetched, this.retryAt - Date.now(), this.showProgress.bind(this));
    this.run = run;
    run.promise.then(function (result) {
      if (self.run === run) self.deliverToken(result);
    }, function (error) {
      if (self.run === run) self.fail(error);
    }).catch(function (error) {
      console.error('challenge widget ' + self.id + ': unexpected error', error);
    });
  };

  // Announces 50 % once per run, so screen readers hear start, middle and end only.
  Widget.prototype.showProgress = function (fraction) {
    var percent = Math.min(100, Math.floor(fraction * 100));
    this.view.setProgress(percent);
    if (percent >= 50 && !this.halfAnnounced) {
      this.halfAnnounced = true;
      this.view.announce(internals.format(this.text.workingPercent, { percent: 50 }));
    }
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
    this.host.setAttribute('data-solver-used', result.solver);
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

  Widget.prototype.fail = function (error) {
    if (!error || !error.code) {
      console.error('challenge widget ' + this.id + ': unexpected error', error);
      error = WidgetError('internal-error', String(error && error.message || error));
    } else {
      console.warn('challenge widget ' + this.id + ': ' + error.code + ': ' + error.message);
    }
    this.run = null;
    if (error.code === 'rate-limited' && error.retryAfter) this.retryAt = Date.now() + error.retryAfter * 1000;
    this.setState('error', { error: error });
    this.rejectWaiters(error);
    this.callPage('errorCallback', [error.code, error]);
  };

  Widget.prototype.rejectWaiters = function (error) {
    var waiters = this.waiters;
    this.waiters = [];
    waiters.forEach(function (waiter) { waiter.reject(error); });
  };

  // Calls a page callback given as a function or a global name. An exception
  // it throws is reported like an uncaught error but does not stop the widget.
  Widget.prototype.callPage = function (name, args) {
    var callback = this.options[name];
    if (typeof callback === 'string') callback = lookUpGlobal(callback);
    if (typeof callback !== 'function') {
      if (this.options[name]) console.warn('challenge widget ' + this.id + ': ' + name + ' ' + JSON.stringify(this.options[name]) + ' is not a function');
      return;
    }
    try {
      callback.apply(null, args);
    } catch (error) {
      if (typeof window.reportError === 'function') window.reportError(error);
      else setTimeout(function () { throw error; }, 0);
    }
  };

  Widget.prototype.cancelRun = function () {
    if (!this.run) return;
    this.run.cancel();
    this.run = null;
  };

  Widget.prototype.getResponse = function () {
    this.checkTokenExpiry();
    return this.state === 'success' ? this.token : '';
  };

  Widget.prototype.execute = function () {
    var self = this;
    this.autoRenewals = 0;
    this.checkTokenExpiry();
    var promise = new Promise(function (resolve, reject) {
      if (self.state === 'success') {
        resolve(self.token);
        return;
      }
      self.waiters.push({ resolve: resolve, reject: reject });
      self.start();
    });
    // Marks the promise as handled, so a page that ignores it gets no unhandledrejection.
    promise.catch(noop);
    return promise;
  };

  Widget.prototype.reset = function () {
    this.cancelRun();
    this.clearToken();
    this.rejectWaiters(WidgetError('reset', 'the widget was reset'));
    this.autoRenewals = 0;
    this.spendNextToken = false;
    if (this.options.problem) return;
    this.setState('idle', { message: this.text.idle });
  };

  Widget.prototype.remove = function () {
    this.cancelRun();
    this.clearToken();
    if (this.prefetchController) this.prefetchController.abort();
    this.rejectWaiters(WidgetError('removed', 'the widget was removed'));
    this.unlisten();
    this.input.remove();
    this.view.destroy();
    this.host.removeAttribute('data-solver-used');
    this.state = 'removed';
  };

  internals.Widget = Widget;
})(window.challengeWidgetInternals);
