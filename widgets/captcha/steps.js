/*
 * Steps that need the person: the registry of their views, the queue of the
 * person's actions, and the presentation of a step in a widget's stage.
 * timing.js and image.js register their views here.
 */
(function (internals) {
  'use strict';

  var format = internals.format;

  /**
   * Views of the steps that need the person, by name: timing.js adds `hold`
   * and `wait`, image.js adds `image`. Each is a function (stage, context)
   * that builds its DOM in `stage` and returns a step view with:
   * - name: its name;
   * - show(data, notice): shows a challenge (a 201 body or a `next` step);
   * - next(): a promise of the person's next action, {answer} or {alternative};
   * - sending(): the answer is on its way;
   * - wrong(attemptsLeft): the service rejected the answer, which may be
   *   retried; a view without it (the wait) ends the run on a rejection;
   * - destroy(): stops its timers and media.
   */
  internals.stepViews = {};

  /** Returns the name of the step view for a challenge, or null for a proof of work or an unknown kind. */
  internals.stepViewName = function (challenge) {
    if (challenge.kind === 'timing' && (challenge.mode === 'hold' || challenge.mode === 'wait')) return challenge.mode;
    if (challenge.kind === 'image') return 'image';
    return null;
  };

  /**
   * Returns a queue of a step view's actions: emit(action) from event
   * handlers, next() for the run. An action emitted before next() waits in
   * the queue.
   */
  internals.createActions = function () {
    var queued = [];
    var waiting = null;
    return {
      emit: function (action) {
        if (waiting) {
          var resolve = waiting;
          waiting = null;
          resolve(action);
        } else {
          queued.push(action);
        }
      },
      next: function () {
        if (queued.length) return Promise.resolve(queued.shift());
        return new Promise(function (resolve) { waiting = resolve; });
      }
    };
  };

  /**
   * Returns the text a step view announces first: the step number when the
   * flow has several steps, why the step changed, then `instructions`.
   */
  internals.stepIntroduction = function (context, data, notice, instructions) {
    var parts = [];
    if (data.steps > 1) parts.push(format(context.text.step, { step: data.step, steps: data.steps }));
    if (notice === 'out-of-attempts') parts.push(context.text.outOfAttempts);
    parts.push(instructions);
    return parts.join(' ');
  };

  /**
   * Shows the step view of `data` in `view` (view.js) and returns it. A
   * challenge for the view already shown, `previous` (a new image), updates it
   * in place, so the focus stays on the control the person used. Otherwise
   * `enterState()` switches the widget to `challenge` and a new view replaces
   * the stage. Throws `unsupported-challenge` for a kind without a view.
   */
  internals.presentStep = function (view, context, data, previous, notice, enterState) {
    var challenge = data.challenge;
    var name = internals.stepViewName(challenge);
    if (!name || !internals.stepViews[name]) {
      var described = challenge.kind + (challenge.mode ? ' (mode ' + challenge.mode + ')' : '');
      throw internals.WidgetError('unsupported-challenge', 'challenge kind ' + JSON.stringify(described) + ' is not supported');
    }
    if (previous && previous.name === name) {
      previous.show(data, notice);
      return previous;
    }
    enterState();
    var step = view.showStep(name, function (stage) {
      return internals.stepViews[name](stage, context);
    });
    step.show(data, notice);
    return step;
  };
})(window.challengeWidgetInternals);
