/*
 * DOM of one widget, in an open shadow root on the host element. The markup
 * is built with createElement and textContent only, so it needs neither
 * inline styles nor innerHTML (pages with strict CSP or Trusted Types).
 */
(function (internals) {
  'use strict';

  var sharedSheet = null;

  function canAdoptSheets() {
    return typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype &&
      'adoptedStyleSheets' in ShadowRoot.prototype;
  }

  /**
   * Applies captcha.css to a shadow root. A widget served from another origin
   * uses one constructed stylesheet filled from a CORS fetch, which a
   * `style-src` directive does not govern in Chromium (see README), so the
   * host page needs no style-src entry. A same-origin widget, or a browser
   * without constructed stylesheets, gets a <link>, allowed by style-src 'self'
   * or the service origin.
   */
  function applyStyles(root, base) {
    var href = base + 'captcha.css';
    if (!internals.isSameOrigin(href) && canAdoptSheets()) {
      if (!sharedSheet) {
        sharedSheet = new CSSStyleSheet();
        fetch(href, { mode: 'cors', credentials: 'omit' }).then(function (response) {
          if (!response.ok) throw new Error('HTTP ' + response.status);
          return response.text();
        }).then(function (text) {
          sharedSheet.replaceSync(text);
        }).catch(function (error) {
          console.warn('challenge widget: could not load ' + href + ', the widget stays unstyled:', error);
        });
      }
      root.adoptedStyleSheets = [sharedSheet];
      return;
    }
    var link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = href;
    root.appendChild(link);
  }

  /** Creates an element with a class and attributes; `text` becomes its textContent. */
  function element(tag, className, attributes, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    for (var name in attributes) {
      if (Object.prototype.hasOwnProperty.call(attributes, name)) node.setAttribute(name, attributes[name]);
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** Returns whether the person asked the system for reduced motion. */
  internals.prefersReducedMotion = function () {
    return typeof window.matchMedia === 'function' && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  };

  /**
   * Builds the widget's DOM inside `host` and returns the view. `onButton` is
   * called when the person activates the verify or retry button.
   */
  function createView(host, base, lang, onButton) {
    var text = internals.messages(lang);
    var root = host.shadowRoot || host.attachShadow({ mode: 'open' });
    root.replaceChildren();
    applyStyles(root, base);

    // tabindex=-1 lets the group take focus when the focused button is hidden.
    var group = element('div', 'cw-widget', {
      role: 'group', 'aria-labelledby': 'cw-title', 'aria-describedby': 'cw-note', tabindex: '-1', lang: lang
    });
    var icon = element('span', 'cw-icon', { 'aria-hidden': 'true' });
    var body = element('div', 'cw-body');
    var title = element('p', 'cw-title', { id: 'cw-title' });
    title.textContent = text.title;
    var status = element('p', 'cw-status', { role: 'status' });
    // The bar repeats the status visually; screen readers get the throttled status instead.
    var meter = element('div', 'cw-meter', { 'aria-hidden': 'true' });
    var progress = element('progress', 'cw-progress', { max: '100', value: '0' });
    var percent = element('span', 'cw-percent');
    meter.append(progress, percent);
    var alert = element('p', 'cw-alert', { role: 'alert' });
    // Holds the controls of a step that needs the person: hold, wait or image.
    var stage = element('div', 'cw-stage', { hidden: '' });
    var button = element('button', 'cw-button', { type: 'button' });
    button.addEventListener('click', function () { onButton(); });
    var note = element('p', 'cw-note', { id: 'cw-note' });
    note.textContent = text.note;
    body.append(title, status, meter, alert, stage, button, note);
    group.append(icon, body);
    root.appendChild(group);
    var step = null;

    // Focus must not fall to the page body when the control that has it
    // disappears, so the group takes it, which keeps the person in the widget.
    function keepFocusOutOf(container) {
      var active = root.activeElement;
      if (active && active !== group && container.contains(active)) group.focus();
    }

    function showButton(label) {
      if (label) {
        button.textContent = label;
        button.hidden = false;
        return;
      }
      keepFocusOutOf(button);
      button.hidden = true;
    }

    function setPercent(value) {
      setMeter(value, value + (lang === 'fr' ? '\u00a0%' : '%'));
    }

    function setMeter(value, label) {
      progress.value = value;
      percent.textContent = label;
    }

    function clearStage() {
      keepFocusOutOf(stage);
      if (step) step.destroy();
      step = null;
      stage.replaceChildren();
      stage.hidden = true;
      host.removeAttribute('data-challenge');
      group.removeAttribute('data-challenge');
    }

    return {
      /**
       * Shows a state. `detail.message` replaces the status text, and
       * `detail.error` (a WidgetError) fills the alert for the error state.
       * Every state but `challenge` clears the stage.
       */
      setState: function (state, detail) {
        detail = detail || {};
        host.setAttribute('data-state', state);
        group.setAttribute('data-state', state);
        if (state !== 'challenge') clearStage();
        meter.hidden = state !== 'working';
        if (state === 'working') setPercent(0);
        if (state === 'error') {
          status.textContent = '';
          alert.textContent = text.errorPrefix + errorText(detail.error);
          host.setAttribute('data-error-code', detail.error.code);
        } else {
          alert.textContent = '';
          host.removeAttribute('data-error-code');
          status.textContent = detail.message || '';
        }
        var canRetry = state === 'error' && detail.error.code !== 'invalid-options';
        showButton(canRetry ? text.retry : (state === 'idle' || state === 'expired') ? text.verify : '');
      },

      setProgress: setPercent,

      /**
       * Shows the bar of a step that needs the person, with `label` beside it
       * (a percentage or seconds left); a null value hides the bar.
       */
      setMeter: function (value, label) {
        meter.hidden = value === null;
        if (value !== null) setMeter(value, label);
      },

      /**
       * Replaces the stage with the view of a step and returns the view.
       * `name` (hold, wait or image) goes to data-challenge. `create(stage)`
       * builds the step's DOM in the stage and returns the view, whose
       * destroy() runs when the stage is cleared.
       */
      showStep: function (name, create) {
        clearStage();
        host.setAttribute('data-challenge', name);
        group.setAttribute('data-challenge', name);
        stage.hidden = false;
        step = create(stage);
        return step;
      },

      /** Moves the focus to the widget group if it is inside `container`, which is about to go. */
      keepFocusOutOf: keepFocusOutOf,

      /** Replaces the status text, which screen readers announce politely. */
      announce: function (message) {
        status.textContent = message;
      },

      destroy: function () {
        clearStage();
        root.replaceChildren();
        host.removeAttribute('data-state');
        host.removeAttribute('data-error-code');
      }
    };

    function errorText(error) {
      var code = error.code;
      if (code === 'rate-limited' && error.retryAfter) {
        return internals.format(text.errors['rate-limited-wait'], { seconds: error.retryAfter });
      }
      return text.errors[code] || text.errors['service-error'];
    }
  }

  internals.createView = createView;
  internals.element = element;
})(window.challengeWidgetInternals);
