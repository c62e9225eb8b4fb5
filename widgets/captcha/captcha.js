/*
 * Challenge widget loader and public API (window.challengeWidget).
 *
 * Embed with <script src="https://SERVICE/widget/v1/captcha.js" async defer>
 * and <div class="challenge-widget" data-sitekey="..."> inside a form. This
 * file loads the other parts from its own folder, then renders every
 * .challenge-widget element unless its URL has ?render=explicit.
 * See README.md for options, callbacks, error codes and CSP.
 */
(function () {
  'use strict';

  if (window.challengeWidget && window.challengeWidget.version) return;

  var PARTS = [
    'i18n.js', 'service.js', 'runner.js', 'run.js', 'view.js', 'steps.js', 'timing.js', 'audio.js', 'image.js',
    'widget.js', 'token.js'
  ];
  var ACTION_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;
  var DEFAULT_ACTION = 'default';
  var DEFAULT_FIELD_NAME = 'challenge-response';

  var script = document.currentScript || document.querySelector('script[src*="captcha.js"]');
  if (!script) throw new Error('challenge widget: load captcha.js with a classic <script src> element');
  var scriptUrl = new URL(script.src, document.baseURI);
  var base = new URL('.', scriptUrl).href;
  var internals = window.challengeWidgetInternals = { base: base };

  internals.isSameOrigin = function (url) {
    return new URL(url, document.baseURI).origin === window.location.origin;
  };

  // Pages that enforce Trusted Types need a policy for script and worker URLs.
  // Its name, challenge-widget, must then be listed in their trusted-types directive.
  var policy = null;
  if (window.trustedTypes && typeof window.trustedTypes.createPolicy === 'function') {
    try {
      policy = window.trustedTypes.createPolicy('challenge-widget', {
        createScriptURL: function (url) {
          if (url.indexOf(base) === 0 || url.indexOf('blob:') === 0) return url;
          throw new TypeError('challenge widget: rejected script URL ' + url + ', which is outside ' + base);
        }
      });
    } catch (error) {
      // Expected when the page allows no such policy. Script URLs then work
      // only where Trusted Types are not enforced.
      policy = null;
      console.warn('challenge widget: Trusted Types policy challenge-widget not created: ' + error.message);
    }
  }
  internals.trustedScriptUrl = function (url) {
    return policy ? policy.createScriptURL(url) : url;
  };

  internals.loadScript = function (url) {
    return new Promise(function (resolve, reject) {
      var element = document.createElement('script');
      element.src = internals.trustedScriptUrl(url);
      // Dynamically inserted scripts run in insertion order only with async = false.
      element.async = false;
      // A CORS request without credentials: the widget never sends cookies.
      element.crossOrigin = 'anonymous';
      if (script.nonce) element.nonce = script.nonce;
      element.onload = function () { resolve(); };
      element.onerror = function () { reject(new Error('failed to load ' + url)); };
      document.head.appendChild(element);
    });
  };

  var ready = Promise.all(PARTS.map(function (name) {
    return internals.loadScript(base + name);
  }));

  var records = {};
  var order = [];
  var counter = 0;

  function readAttributes(element) {
    var data = element.dataset;
    return {
      sitekey: data.sitekey,
      action: data.action,
      callback: data.callback,
      expiredCallback: data.expiredCallback,
      errorCallback: data.errorCallback,
      lang: data.lang,
      responseFieldName: data.responseFieldName,
      api: data.api,
      solver: data.solver
    };
  }

  // The attribute is read at each challenge request, unless the riskTicket
  // option overrides it, so a page can replace an expired ticket in place.
  function riskTicketReader(element, explicit) {
    if (typeof explicit === 'string') return function () { return explicit; };
    return function () { return element.getAttribute('data-risk-ticket') || ''; };
  }

  // Returns the options the Widget uses. `problem` describes an invalid option,
  // the missing sitekey first, or is null.
  function normalizeOptions(element, explicitOptions) {
    var merged = readAttributes(element);
    for (var key in explicitOptions) {
      if (Object.prototype.hasOwnProperty.call(explicitOptions, key) && explicitOptions[key] !== undefined) {
        merged[key] = explicitOptions[key];
      }
    }
    var options = {
      sitekey: merged.sitekey,
      action: merged.action || DEFAULT_ACTION,
      callback: merged.callback,
      expiredCallback: merged.expiredCallback,
      errorCallback: merged.errorCallback,
      lang: merged.lang === 'en' ? 'en' : 'fr',
      responseFieldName: merged.responseFieldName || DEFAULT_FIELD_NAME,
      api: scriptUrl.origin,
      solver: merged.solver === 'main-thread' ? 'main-thread' : 'auto',
      readRiskTicket: riskTicketReader(element, explicitOptions.riskTicket),
      base: base,
      problem: null
    };
    if (explicitOptions.riskTicket !== undefined && typeof explicitOptions.riskTicket !== 'string') {
      options.problem = 'riskTicket must be a string, got ' + typeof explicitOptions.riskTicket;
    }
    if (merged.lang && merged.lang !== 'fr' && merged.lang !== 'en') {
      console.warn('challenge widget: lang ' + JSON.stringify(merged.lang) + ' is not supported, using fr');
    }
    if (merged.api) {
      try {
        var api = new URL(merged.api);
        if (api.protocol !== 'https:' && api.protocol !== 'http:') throw new TypeError('not http(s)');
        options.api = (api.origin + api.pathname).replace(/\/+$/, '');
      } catch (error) {
        options.problem = 'api must be an absolute http(s) URL, got ' + JSON.stringify(merged.api);
      }
    }
    if (!ACTION_PATTERN.test(options.action)) {
      options.problem = 'action must match ' + ACTION_PATTERN + ', got ' + JSON.stringify(options.action);
    }
    if (typeof options.sitekey !== 'string' || !options.sitekey) {
      options.problem = 'sitekey is missing; set data-sitekey or the sitekey option';
    }
    return options;
  }

  function resolveElement(target) {
    var element = typeof target === 'string' ? document.querySelector(target) : target;
    if (!element || element.nodeType !== 1) {
      var error = new TypeError('challenge widget: no element matches ' + String(target));
      error.code = 'invalid-options';
      throw error;
    }
    return element;
  }

  function createRecord(element, options) {
    var id = 'challenge-widget-' + (++counter);
    var record = { id: id, element: element, widget: null, removed: false };
    records[id] = record;
    order.push(id);
    element.setAttribute('data-widget-id', id);
    ready.then(function () {
      if (!record.removed) record.widget = new internals.Widget(id, element, options);
    }).catch(function (error) {
      console.error('challenge widget ' + id + ': the widget files did not load from ' + base, error);
    });
    return id;
  }

  function render(target, options) {
    var element = resolveElement(target);
    if (element.getAttribute('data-widget-id') && records[element.getAttribute('data-widget-id')]) {
      var duplicate = new TypeError('challenge widget: the element already has widget ' + element.getAttribute('data-widget-id'));
      duplicate.code = 'invalid-options';
      throw duplicate;
    }
    var normalized = normalizeOptions(element, options || {});
    if (normalized.problem) {
      var invalid = new TypeError('challenge widget: ' + normalized.problem);
      invalid.code = 'invalid-options';
      throw invalid;
    }
    return createRecord(element, normalized);
  }

  // Returns the record for an id, or the first widget still on the page, or
  // null when no id is given and no widget is on the page. Throws a TypeError
  // for an id that render() never returned.
  function findRecord(id) {
    if (id !== undefined && id !== null) {
      var record = records[id];
      if (!record) {
        var error = new TypeError('challenge widget: unknown widget id ' + JSON.stringify(id));
        error.code = 'invalid-options';
        throw error;
      }
      return record;
    }
    for (var i = 0; i < order.length; i++) {
      if (!records[order[i]].removed) return records[order[i]];
    }
    return null;
  }

  // Runs `action` on the widget once the parts have loaded.
  // Runs at once when the widget exists, so that reset() or remove() takes
  // effect before the caller's next line (an execute() right after a reset()
  // must not get the old token); otherwise waits for the files to load.
  function whenReady(record, action) {
    if (record.widget) {
      try {
        return Promise.resolve(action(record.widget));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return ready.then(function () {
      if (record.widget) return action(record.widget);
    });
  }

  function rejected(code, message) {
    var error = new Error(message);
    error.name = 'ChallengeWidgetError';
    error.code = code;
    var promise = Promise.reject(error);
    promise.catch(function () {});
    return promise;
  }

  function execute(id) {
    var record;
    try {
      record = findRecord(id);
    } catch (error) {
      return rejected('invalid-options', error.message);
    }
    if (!record) return rejected('invalid-options', 'challenge widget: no widget has been rendered');
    if (record.removed) return rejected('removed', 'the widget was removed');
    if (record.widget) return record.widget.execute();
    var promise = ready.then(function () {
      if (!record.widget) throw internals.WidgetError('removed', 'the widget was removed');
      return record.widget.execute();
    }, function () {
      throw internals.WidgetError ? internals.WidgetError('network-error', 'the widget files did not load')
        : new Error('the widget files did not load');
    });
    promise.catch(function () {});
    return promise;
  }

  function autoRender() {
    var elements = document.querySelectorAll('.challenge-widget');
    Array.prototype.forEach.call(elements, function (element) {
      if (element.getAttribute('data-widget-id')) return;
      var options = normalizeOptions(element, {});
      if (options.problem) console.error('challenge widget: ' + options.problem, element);
      // An invalid element still renders, to show its configuration error in place.
      createRecord(element, options);
    });
  }

  function callOnload() {
    var onload = window.challengeWidgetOnload;
    var name = scriptUrl.searchParams.get('onload');
    if (name && typeof window[name] === 'function') onload = window[name];
    if (typeof onload !== 'function') return;
    try {
      onload();
    } catch (error) {
      if (typeof window.reportError === 'function') window.reportError(error);
      else console.error(error);
    }
  }

  window.challengeWidget = {
    version: '1',
    render: render,
    execute: execute,
    getResponse: function (id) {
      var record = findRecord(id);
      return record && record.widget && !record.removed ? record.widget.getResponse() : '';
    },
    reset: function (id) {
      var record = findRecord(id);
      if (!record) return;
      whenReady(record, function (widget) { if (!record.removed) widget.reset(); }).catch(function () {});
    },
    remove: function (id) {
      var record = findRecord(id);
      if (!record || record.removed) return;
      // The record stays, so that execute() on this id rejects with `removed`.
      record.removed = true;
      record.element.removeAttribute('data-widget-id');
      whenReady(record, function (widget) { widget.remove(); }).catch(function () {});
    }
  };

  ready.then(function () {
    if (scriptUrl.searchParams.get('render') !== 'explicit') {
      if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autoRender);
      else autoRender();
    }
    callOnload();
  }).catch(function (error) {
    console.error('challenge widget: the widget files did not load from ' + base, error);
  });
})();
