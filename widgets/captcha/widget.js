/*
 * One rendered widget: the hidden form field, the triggers that start a run
 * (run.js), the step views a run shows (steps.js) and the page callbacks.
 * token.js adds the pass token's lifetime to the same prototype.
 * States (data-state on the host element): idle, working, challenge,
 * success, error, expired.
 */
(function (internals) {
  'use strict';

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
    var request = internals.service.challengeRequest(this.options);
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
    if (!this.isBusy() && this.state !== 'success') this.start();
  };

  /** Returns whether a run is under way: solving, or waiting on a step that needs the person. */
  Widget.prototype.isBusy = function () {
    return this.state === 'working' || this.state === 'challenge';
  };

  // A proof of work that follows a step view, after an expired challenge, shows `working` again.
  Widget.prototype.showWork = function () {
    if (this.state === 'working') return;
    this.halfAnnounced = false;
    this.setState('working', { message: this.text.working });
  };

  /** Shows the step view of a challenge that needs the person and returns it (steps.js). */
  Widget.prototype.showStep = function (data, previous, notice) {
    var self = this;
    var context = {
      text: this.text,
      lang: this.options.lang,
      api: this.options.api,
      announce: this.view.announce,
      setMeter: this.view.setMeter
    };
    return internals.presentStep(this.view, context, data, previous && this.state === 'challenge' ? previous : null,
      notice, function () { self.setState('challenge', { message: '' }); });
  };

  /** Starts fetching and solving unless a run is already going on. */
  Widget.prototype.start = function (message) {
    if (this.isBusy()) return;
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
    var run = internals.startRun(this.options, prefetched, this.retryAt - Date.now(), {
      onProgress: this.showProgress.bind(this),
      showWork: this.showWork.bind(this),
      showStep: this.showStep.bind(this)
    });
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
    // Under reduced motion every bar of the widget moves by quarters.
    this.view.setProgress(internals.prefersReducedMotion() ? percent - percent % 25 : percent);
    if (percent >= 50 && !this.halfAnnounced) {
      this.halfAnnounced = true;
      this.view.announce(internals.format(this.text.workingPercent, { percent: 50 }));
    }
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
