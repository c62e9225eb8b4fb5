/*
 * Step views of timing challenges: press and hold a button, or wait.
 *
 * Durations are measured with performance.now(), never with Date, so the
 * device's clock plays no part. The service checks the time on its own clock
 * anyway. Progress shows on the widget's bar, and the status region
 * announces only a few moments: the start, halfway and the end of a hold,
 * and every 5 s of a wait, so screen readers do not speak all the time.
 */
(function (internals) {
  'use strict';

  var element = internals.element;
  var format = internals.format;
  var phrasing = internals.phrasing;

  // Under reduced motion the hold bar moves in quarters instead of continuously.
  var REDUCED_MOTION_STEP = 25;
  // A wait is announced when this many seconds are left, and at its end.
  var WAIT_ANNOUNCE_EVERY_S = 5;
  var WAIT_TICK_MS = 200;
  var WAIT_TICK_REDUCED_MS = 1000;
  // A click this soon after a press or release belongs to it.
  var CLICK_AFTER_PRESS_MS = 1000;

  function wholeSeconds(ms) {
    return Math.max(0, Math.ceil(ms / 1000));
  }

  function percentLabel(lang, value) {
    return value + (lang === 'fr' ? '\u00a0%' : '%');
  }

  function offersWait(challenge) {
    return (challenge.alternatives || []).some(function (alternative) {
      return alternative.kind === 'timing' && alternative.mode === 'wait';
    });
  }

  function durationOf(challenge, field) {
    var value = challenge[field];
    if (typeof value !== 'number' || !isFinite(value) || value < 0) {
      throw internals.WidgetError('service-error', 'the timing challenge has no valid ' + field);
    }
    return value;
  }

  /**
   * Press and hold: the person holds the button with a mouse, a pen or a
   * finger, or holds Space or Enter while the button has the focus. The
   * answer goes as soon as the hold lasts hold_ms, even before the release.
   * Releasing earlier resets the bar and says so.
   */
  internals.stepViews.hold = function (stage, context) {
    var text = context.text;
    var actions = internals.createActions();
    var help = element('p', 'cw-help', { id: 'cw-hold-help' });
    var button = element('button', 'cw-hold', { type: 'button', 'aria-describedby': 'cw-hold-help' }, text.holdButton);
    var instead = element('button', 'cw-secondary', { type: 'button' }, text.cannotHold);
    stage.append(help, button, instead);

    var holdMs = 0;
    // The hold under way: {input, key, pointerId, start}, or null.
    var press = null;
    var done = false;
    var halfAnnounced = false;
    var timer = 0;
    var frame = 0;
    // When the last press or release happened, to tell its click from one without a press.
    var lastPressEvent = -Infinity;

    function showProgress(elapsed) {
      var value = Math.min(100, Math.floor(elapsed / holdMs * 100));
      if (internals.prefersReducedMotion()) value = Math.floor(value / REDUCED_MOTION_STEP) * REDUCED_MOTION_STEP;
      context.setMeter(value, percentLabel(context.lang, value));
      if (!halfAnnounced && elapsed * 2 >= holdMs) {
        halfAnnounced = true;
        context.announce(text.holdHalf);
      }
    }

    function animate() {
      if (!press || done) return;
      showProgress(performance.now() - press.start);
      frame = requestAnimationFrame(animate);
    }

    function stopTimers() {
      clearTimeout(timer);
      cancelAnimationFrame(frame);
    }

    // setTimeout may fire before performance.now() shows the full duration
    // on coarse timers, so the check runs again until it does.
    function check() {
      if (!press || done) return;
      var elapsed = performance.now() - press.start;
      if (elapsed < holdMs) {
        timer = setTimeout(check, holdMs - elapsed);
        return;
      }
      done = true;
      stopTimers();
      context.setMeter(100, percentLabel(context.lang, 100));
      context.announce(text.holdDone);
      actions.emit({ answer: { held_ms: Math.ceil(elapsed), input: press.input } });
    }

    function begin(input, key, pointerId) {
      if (press || done) return;
      press = { input: input, key: key, pointerId: pointerId, start: performance.now() };
      lastPressEvent = press.start;
      halfAnnounced = false;
      button.classList.add('cw-pressed');
      context.announce(text.holdStarted);
      showProgress(0);
      frame = requestAnimationFrame(animate);
      timer = setTimeout(check, holdMs);
    }

    function release() {
      if (!press) return;
      press = null;
      lastPressEvent = performance.now();
      button.classList.remove('cw-pressed');
      if (done) return;
      stopTimers();
      context.setMeter(0, percentLabel(context.lang, 0));
      context.announce(text.holdEarly);
    }

    function isHoldKey(event) {
      return (event.key === ' ' || event.key === 'Enter') && !event.altKey && !event.ctrlKey && !event.metaKey;
    }

    button.addEventListener('pointerdown', function (event) {
      if (event.button !== 0 || !event.isPrimary) return;
      begin(event.pointerType === 'touch' ? 'touch' : 'pointer', null, event.pointerId);
      try {
        button.setPointerCapture(event.pointerId);
      } catch (error) {
        // The pointer is already gone; pointerup or pointercancel ends the hold.
      }
    });
    ['pointerup', 'pointercancel', 'lostpointercapture'].forEach(function (type) {
      button.addEventListener(type, function (event) {
        if (press && press.pointerId === event.pointerId) release();
      });
    });
    // A long touch would open the context menu and end the hold.
    button.addEventListener('contextmenu', function (event) { event.preventDefault(); });
    // Without preventDefault, Space and Enter would also click the button,
    // which announces the hint meant for a click with no press.
    button.addEventListener('keydown', function (event) {
      if (!isHoldKey(event)) return;
      event.preventDefault();
      if (!event.repeat) begin('key', event.key, null);
    });
    button.addEventListener('keyup', function (event) {
      if (!press || press.input !== 'key' || event.key !== press.key) return;
      event.preventDefault();
      release();
    });
    button.addEventListener('blur', function () {
      if (press && press.input === 'key') release();
    });
    // Screen readers in browse mode activate a button with a click alone, with
    // no key or pointer press, so the button cannot be held that way.
    button.addEventListener('click', function () {
      if (press || done || performance.now() - lastPressEvent < CLICK_AFTER_PRESS_MS) return;
      context.announce(text.holdClickHint);
    });
    // Without window focus no keyup or pointerup arrives, so the hold ends.
    var onWindowBlur = function () { release(); };
    window.addEventListener('blur', onWindowBlur);

    instead.addEventListener('click', function () {
      if (done) return;
      done = true;
      release();
      actions.emit({ alternative: { kind: 'timing', mode: 'wait' } });
    });

    return {
      name: 'hold',
      show: function (data, notice) {
        holdMs = durationOf(data.challenge, 'hold_ms');
        press = null;
        done = false;
        stopTimers();
        button.classList.remove('cw-pressed');
        instead.hidden = !offersWait(data.challenge);
        var seconds = wholeSeconds(holdMs);
        var wording = data.challenge.wording;
        help.textContent = format(phrasing(text, 'holdHelp', wording), { seconds: seconds });
        context.setMeter(0, percentLabel(context.lang, 0));
        var instructions = format(phrasing(text, 'holdReady', wording), { seconds: seconds });
        context.announce(internals.stepIntroduction(context, data, notice, instructions));
      },
      next: actions.next,
      sending: function () {},
      wrong: function () {
        done = false;
        press = null;
        button.classList.remove('cw-pressed');
        context.setMeter(0, percentLabel(context.lang, 0));
        context.announce(text.holdEarly);
      },
      destroy: function () {
        stopTimers();
        press = null;
        done = true;
        window.removeEventListener('blur', onWindowBlur);
      }
    };
  };

  /**
   * Wait: nothing to do. The bar and the seconds left move on their own, the
   * status region announces the start, every 5 s left and the end, and the
   * widget answers by itself.
   */
  internals.stepViews.wait = function (stage, context) {
    var text = context.text;
    var actions = internals.createActions();
    // The status region's text changes as it announces, so the instruction stays here.
    var help = element('p', 'cw-help', {});
    stage.appendChild(help);
    var waitMs = 0;
    var started = 0;
    var lastAnnounced = 0;
    var timer = 0;

    function tick() {
      var elapsed = performance.now() - started;
      var left = wholeSeconds(waitMs - elapsed);
      var value = waitMs > 0 ? Math.min(100, Math.floor(elapsed / waitMs * 100)) : 100;
      if (internals.prefersReducedMotion() && left > 0) value = Math.floor((1 - left * 1000 / waitMs) * 100);
      context.setMeter(Math.max(0, value), format(text.seconds, { seconds: left }));
      if (elapsed >= waitMs) {
        context.announce(text.waitDone);
        actions.emit({ answer: {} });
        return;
      }
      if (left % WAIT_ANNOUNCE_EVERY_S === 0 && left !== lastAnnounced) {
        lastAnnounced = left;
        context.announce(format(text.waitLeft, { seconds: left }));
      }
      var interval = internals.prefersReducedMotion() ? WAIT_TICK_REDUCED_MS : WAIT_TICK_MS;
      timer = setTimeout(tick, Math.min(interval, Math.max(1, waitMs - elapsed)));
    }

    function start() {
      clearTimeout(timer);
      started = performance.now();
      lastAnnounced = wholeSeconds(waitMs);
      tick();
    }

    return {
      name: 'wait',
      show: function (data, notice) {
        waitMs = durationOf(data.challenge, 'wait_ms');
        var wording = data.challenge.wording;
        help.textContent = phrasing(text, 'waitHelp', wording);
        var instructions = format(phrasing(text, 'waitStarted', wording), { seconds: wholeSeconds(waitMs) });
        context.announce(internals.stepIntroduction(context, data, notice, instructions));
        start();
      },
      next: actions.next,
      sending: function () {},
      // No wrong(): a wait has no wrong answer, and run.js fails the run if
      // the service rejects one.
      destroy: function () {
        clearTimeout(timer);
      }
    };
  };

})(window.challengeWidgetInternals);
