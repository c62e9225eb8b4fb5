/*
 * Step view of image challenges: an image to read or count, its prompt as
 * the label of a text field, and the alternatives: a new image, the audio
 * version (audio.js) and a wait instead.
 *
 * The controls sit in a <form> of the widget's shadow root, so Enter in the
 * field sends the answer to the service and never submits the portal's form.
 * Alt+P (Option+P on a Mac) in the field or on any button of the step plays
 * or pauses the audio without moving the focus; the field's description
 * says so.
 */
(function (internals) {
  'use strict';

  var element = internals.element;
  var format = internals.format;
  var phrasing = internals.phrasing;

  function offers(challenge, kind, mode) {
    return (challenge.alternatives || []).some(function (alternative) {
      return alternative.kind === kind && (mode === undefined || alternative.mode === mode);
    });
  }

  // Alt+P, matched on the physical key because Option+P types a character on a Mac.
  function isAudioShortcut(event) {
    return event.altKey && !event.ctrlKey && !event.metaKey && (event.code === 'KeyP' || event.key === 'p' || event.key === 'P');
  }

  internals.stepViews.image = function (stage, context) {
    var text = context.text;
    var lang = context.lang;
    var actions = internals.createActions();

    var form = element('form', 'cw-image-form', { novalidate: '' });
    var picture = element('img', 'cw-image', { alt: '', decoding: 'async' });
    var label = element('label', 'cw-label', { 'for': 'cw-answer' });
    var help = element('p', 'cw-help', { id: 'cw-answer-help' });
    var message = element('p', 'cw-field-error', { id: 'cw-answer-message' });
    var row = element('div', 'cw-answer-row');
    // No autocomplete="off": paste and autofill must keep working.
    var input = element('input', 'cw-input', {
      id: 'cw-answer', type: 'text', autocapitalize: 'off', spellcheck: 'false',
      'aria-describedby': 'cw-answer-help cw-answer-message'
    });
    var submit = element('button', 'cw-submit', { type: 'submit' }, text.imageSubmit);
    row.append(input, submit);
    var alternatives = element('div', 'cw-actions');
    var newImage = element('button', 'cw-secondary', { type: 'button' }, text.newImage);
    var listen = element('button', 'cw-secondary', { type: 'button' }, text.listen);
    var replay = element('button', 'cw-secondary', { type: 'button', hidden: '' }, text.replay);
    var waitInstead = element('button', 'cw-secondary', { type: 'button' }, text.waitInstead);
    alternatives.append(newImage, listen, replay, waitInstead);

    var busy = false;
    var shown = false;
    var imageFailed = false;
    var player = internals.createAudioPlayer({
      text: text,
      announce: context.announce,
      showMessage: showMessage
    }, listen, replay);
    form.append(picture, label, help, message, row, alternatives, player.audio);
    stage.appendChild(form);

    function pick(values) {
      if (!values || typeof values !== 'object') return '';
      return values[lang] || values.fr || values.en || '';
    }

    function showMessage(value) {
      message.textContent = value;
    }

    function markInvalid(value) {
      showMessage(value);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      input.select();
      context.announce(value);
    }

    function choose(alternative) {
      if (busy) return;
      busy = true;
      player.stop();
      actions.emit({ alternative: alternative });
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) return;
      if (!input.value.trim()) {
        markInvalid(text.emptyAnswer);
        return;
      }
      busy = true;
      actions.emit({ answer: { text: input.value } });
    });
    input.addEventListener('input', function () {
      input.removeAttribute('aria-invalid');
    });
    form.addEventListener('keydown', function (event) {
      if (!isAudioShortcut(event)) return;
      event.preventDefault();
      player.toggle();
    });
    picture.addEventListener('error', function () {
      if (!picture.getAttribute('src')) return;
      console.warn('challenge widget: the image did not load from ' + picture.src);
      imageFailed = true;
      showMessage(text.imageFailed);
      context.announce(text.imageFailed);
    });
    picture.addEventListener('load', function () {
      if (!imageFailed) return;
      imageFailed = false;
      showMessage('');
    });
    newImage.addEventListener('click', function () { choose({ kind: 'image' }); });
    waitInstead.addEventListener('click', function () { choose({ kind: 'timing', mode: 'wait' }); });
    listen.addEventListener('click', function () { player.toggle(); });
    replay.addEventListener('click', function () { player.replay(); });

    return {
      name: 'image',

      // A second show() on this view is a new image that the person asked for.
      show: function (data, notice) {
        var challenge = data.challenge;
        if (typeof challenge.image_url !== 'string' || typeof challenge.audio_url !== 'string') {
          throw internals.WidgetError('service-error', 'the image challenge has no image_url or audio_url');
        }
        busy = false;
        imageFailed = false;
        picture.src = internals.serviceUrl(context.api, challenge.image_url);
        picture.alt = pick(challenge.alt);
        if (typeof challenge.width === 'number') picture.width = challenge.width;
        if (typeof challenge.height === 'number') picture.height = challenge.height;
        label.textContent = pick(challenge.prompt);
        help.textContent = phrasing(text, 'imageHelp', challenge.wording);
        if (typeof challenge.max_length === 'number') input.maxLength = challenge.max_length;
        input.value = '';
        input.removeAttribute('aria-invalid');
        showMessage('');
        newImage.hidden = !offers(challenge, 'image');
        waitInstead.hidden = !offers(challenge, 'timing', 'wait');
        var separator = challenge.audio_url.indexOf('?') >= 0 ? '&' : '?';
        player.setSource(internals.serviceUrl(context.api, challenge.audio_url + separator + 'lang=' + lang));
        context.setMeter(null);
        if (shown) {
          context.announce(text.newImageShown);
        } else {
          var instructions = phrasing(text, 'imageShown', challenge.wording);
          context.announce(internals.stepIntroduction(context, data, notice, instructions));
        }
        shown = true;
      },

      next: actions.next,

      sending: function () {
        context.announce(text.sending);
      },

      wrong: function (attemptsLeft) {
        busy = false;
        var value = text.wrongAnswerRetry;
        if (attemptsLeft === 1) value = text.wrongAnswerOne;
        else if (attemptsLeft > 1) value = format(text.wrongAnswer, { count: attemptsLeft });
        markInvalid(value);
      },

      destroy: function () {
        busy = true;
        player.destroy();
      }
    };
  };
})(window.challengeWidgetInternals);
