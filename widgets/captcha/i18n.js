/*
 * Message catalogue of the widget, French first. The widget loads this file
 * before the others; `{seconds}`, `{percent}`, `{count}`, `{step}` and
 * `{steps}` are filled in by format(). Citizen-facing text only; developer
 * messages stay in English in the console.
 *
 * The instructions of the hold, wait and image steps are arrays with one
 * phrasing per wording index. The service picks the index for each epoch and
 * sends it as the challenge's `wording`, so the text that a person reads or
 * hears changes from one epoch to the next. Each array has as many phrasings
 * as the `wordings` of the service's challenge kind. Every phrasing names
 * the buttons by their labels, which never change.
 */
(function (internals) {
  'use strict';

  var NBSP = '\u00a0';

  var catalogue = {
    fr: {
      groupLabel: 'Vérification anti-robot',
      title: 'Vérification anti-robot',
      note: 'Votre appareil fait un court calcul. Aucun cookie n’est déposé.',
      idle: 'La vérification démarre dès que vous utilisez le formulaire.',
      verify: 'Vérifier maintenant',
      retry: 'Réessayer',
      working: 'Vérification en cours…',
      workingPercent: 'Vérification en cours… {percent}' + NBSP + '%',
      success: 'Vérification réussie',
      expired: 'La vérification a expiré. Une nouvelle vérification démarre.',
      spent: 'Vérification utilisée. Une nouvelle vérification démarrera à votre prochaine action.',
      waiting: 'La vérification a expiré. Elle reprendra à votre prochaine action.',
      errorPrefix: 'Erreur' + NBSP + ': ',
      step: 'Étape {step} sur {steps}.',
      sending: 'Envoi de la réponse…',
      seconds: '{seconds}' + NBSP + 's',
      holdButton: 'Maintenir appuyé',
      holdHelp: [
        'Maintenez le bouton «' + NBSP + 'Maintenir appuyé' + NBSP + '» enfoncé jusqu’à ce que la barre soit pleine, environ {seconds}' + NBSP + 's, avec la souris, le doigt, ou la touche Espace ou Entrée. Si vous ne pouvez pas, choisissez «' + NBSP + 'Je ne peux pas maintenir une touche' + NBSP + '».',
        'Si vous ne pouvez pas maintenir un bouton, choisissez «' + NBSP + 'Je ne peux pas maintenir une touche' + NBSP + '». Sinon, appuyez sur le bouton «' + NBSP + 'Maintenir appuyé' + NBSP + '» avec la souris, le doigt, ou la touche Espace ou Entrée, et gardez-le enfoncé environ {seconds}' + NBSP + 's, jusqu’à ce que la barre soit pleine.',
        'Avec la souris, le doigt, ou la touche Espace ou Entrée, gardez le bouton «' + NBSP + 'Maintenir appuyé' + NBSP + '» enfoncé environ {seconds}' + NBSP + 's, jusqu’à ce que la barre soit pleine. «' + NBSP + 'Je ne peux pas maintenir une touche' + NBSP + '» remplace ce geste par une attente.'
      ],
      holdClickHint: 'Ce bouton se maintient enfoncé, un clic ne suffit pas. Si vous ne pouvez pas le maintenir, choisissez «' + NBSP + 'Je ne peux pas maintenir une touche' + NBSP + '».',
      holdReady: [
        'Maintenez le bouton «' + NBSP + 'Maintenir appuyé' + NBSP + '» enfoncé pendant environ {seconds}' + NBSP + 's.',
        'Appuyez sur le bouton «' + NBSP + 'Maintenir appuyé' + NBSP + '» et gardez-le enfoncé environ {seconds}' + NBSP + 's.',
        'Pendant environ {seconds}' + NBSP + 's, gardez le bouton «' + NBSP + 'Maintenir appuyé' + NBSP + '» enfoncé.'
      ],
      holdStarted: 'Maintien en cours, continuez…',
      holdHalf: 'À moitié, continuez…',
      holdDone: 'C’est bon, vous pouvez relâcher.',
      holdEarly: 'Relâché trop tôt. Recommencez et maintenez jusqu’à ce que la barre soit pleine.',
      cannotHold: 'Je ne peux pas maintenir une touche',
      waitStarted: [
        'Patientez {seconds}' + NBSP + 's, sans rien faire' + NBSP + ': la vérification se termine toute seule.',
        'Vous n’avez rien à faire. La vérification se termine toute seule dans {seconds}' + NBSP + 's.',
        'La vérification se termine toute seule. Attendez {seconds}' + NBSP + 's, sans rien faire.'
      ],
      waitHelp: [
        'Vous n’avez rien à faire' + NBSP + ': la vérification se termine toute seule à la fin du décompte.',
        'À la fin du décompte, la vérification se termine toute seule. Vous n’avez rien à faire.',
        'Attendez la fin du décompte, sans rien faire' + NBSP + ': la vérification se termine toute seule.'
      ],
      waitLeft: 'Encore {seconds}' + NBSP + 's.',
      waitDone: 'Attente terminée.',
      outOfAttempts: 'Réponse incorrecte, et il ne reste plus d’essai.',
      imageHelp: [
        'Raccourci' + NBSP + ': Alt+P lance ou met en pause la version audio.',
        'Alt+P lance ou met en pause la version audio.',
        'Pour lancer ou mettre en pause la version audio, appuyez sur Alt+P.'
      ],
      imageSubmit: 'Valider',
      newImage: 'Nouvelle image',
      listen: 'Écouter',
      waitInstead: 'Attendre à la place',
      imageShown: [
        'Lisez l’image et répondez dans le champ, ou choisissez «' + NBSP + 'Écouter' + NBSP + '» ou «' + NBSP + 'Attendre à la place' + NBSP + '».',
        'Choisissez «' + NBSP + 'Écouter' + NBSP + '» pour entendre la version audio, ou «' + NBSP + 'Attendre à la place' + NBSP + '». Sinon, lisez l’image et répondez dans le champ.',
        'Saisissez dans le champ ce que montre l’image. Vous pouvez aussi choisir «' + NBSP + 'Attendre à la place' + NBSP + '» ou «' + NBSP + 'Écouter' + NBSP + '».'
      ],
      newImageShown: 'Nouvelle image affichée.',
      imageFailed: 'L’image n’a pas pu être chargée. Choisissez «' + NBSP + 'Écouter' + NBSP + '» ou «' + NBSP + 'Attendre à la place' + NBSP + '».',
      emptyAnswer: 'Saisissez votre réponse avant de valider.',
      wrongAnswer: 'Réponse incorrecte. Il vous reste {count}' + NBSP + 'essais.',
      wrongAnswerOne: 'Réponse incorrecte. Il vous reste 1' + NBSP + 'essai.',
      wrongAnswerRetry: 'Réponse incorrecte. Réessayez.',
      audioTitle: 'Version audio',
      play: 'Lire l’audio',
      pause: 'Mettre en pause',
      replay: 'Réécouter depuis le début',
      audioLoading: 'Chargement de l’audio…',
      audioEnded: 'Fin de l’audio.',
      audioFailed: 'L’audio n’a pas pu être chargé. Réessayez ou choisissez «' + NBSP + 'Attendre à la place' + NBSP + '».',
      errors: {
        'network-error': 'le service de vérification ne répond pas.',
        'rate-limited': 'le service de vérification est surchargé.',
        'rate-limited-wait': 'le service de vérification est surchargé. Réessayez dans {seconds}' + NBSP + 's.',
        'service-error': 'le service de vérification a refusé la demande.',
        'challenge-failed': 'la vérification a échoué.',
        'expired': 'la vérification a expiré plusieurs fois de suite.',
        'solver-failed': 'le calcul de vérification n’a pas pu s’exécuter sur cet appareil.',
        'unsupported-challenge': 'ce type de vérification n’est pas encore pris en charge.',
        'invalid-options': 'le module de vérification est mal configuré.'
      }
    },
    en: {
      groupLabel: 'Human check',
      title: 'Human check',
      note: 'Your device does a short computation. No cookie is set.',
      idle: 'The check starts as soon as you use the form.',
      verify: 'Check now',
      retry: 'Retry',
      working: 'Checking…',
      workingPercent: 'Checking… {percent}%',
      success: 'Check complete',
      expired: 'The check has expired. A new check is starting.',
      spent: 'Check used. A new check will start on your next action.',
      waiting: 'The check has expired. It will start again on your next action.',
      errorPrefix: 'Error: ',
      step: 'Step {step} of {steps}.',
      sending: 'Sending the answer…',
      seconds: '{seconds} s',
      holdButton: 'Press and hold',
      holdHelp: [
        'Hold the “Press and hold” button down until the bar is full, about {seconds} s, with the mouse, a finger, or the Space or Enter key. If you cannot, choose “I can’t hold a key”.',
        'If you cannot hold a button down, choose “I can’t hold a key”. Otherwise, press the “Press and hold” button with the mouse, a finger, or the Space or Enter key, and keep it down for about {seconds} s, until the bar is full.',
        'With the mouse, a finger, or the Space or Enter key, keep the “Press and hold” button down for about {seconds} s, until the bar is full. “I can’t hold a key” replaces this with a wait.'
      ],
      holdClickHint: 'This button must be held down, a click is not enough. If you cannot hold it, choose “I can’t hold a key”.',
      holdReady: [
        'Hold the “Press and hold” button down for about {seconds} s.',
        'Press the “Press and hold” button and keep it down for about {seconds} s.',
        'For about {seconds} s, keep the “Press and hold” button down.'
      ],
      holdStarted: 'Holding, keep going…',
      holdHalf: 'Halfway, keep going…',
      holdDone: 'Done, you can let go.',
      holdEarly: 'Released too early. Start again and hold until the bar is full.',
      cannotHold: 'I can’t hold a key',
      waitStarted: [
        'Please wait {seconds} s, with nothing to do: the check finishes by itself.',
        'There is nothing to do. The check finishes by itself in {seconds} s.',
        'The check finishes by itself. Wait {seconds} s, with nothing to do.'
      ],
      waitHelp: [
        'There is nothing to do: the check finishes by itself when the countdown ends.',
        'When the countdown ends, the check finishes by itself. There is nothing to do.',
        'Wait for the countdown to end, with nothing to do: the check finishes by itself.'
      ],
      waitLeft: '{seconds} s left.',
      waitDone: 'Wait complete.',
      outOfAttempts: 'Wrong answer, and no attempts are left.',
      imageHelp: [
        'Shortcut: Alt+P plays or pauses the audio version.',
        'Alt+P plays or pauses the audio version.',
        'To play or pause the audio version, press Alt+P.'
      ],
      imageSubmit: 'Submit',
      newImage: 'New image',
      listen: 'Listen',
      waitInstead: 'Wait instead',
      imageShown: [
        'Read the image and answer in the field, or choose “Listen” or “Wait instead”.',
        'Choose “Listen” to hear the audio version, or “Wait instead”. Otherwise, read the image and answer in the field.',
        'Type what the image shows in the field. You can also choose “Wait instead” or “Listen”.'
      ],
      newImageShown: 'New image shown.',
      imageFailed: 'The image could not be loaded. Choose “Listen” or “Wait instead”.',
      emptyAnswer: 'Type your answer before you submit it.',
      wrongAnswer: 'Wrong answer. {count} attempts left.',
      wrongAnswerOne: 'Wrong answer. 1 attempt left.',
      wrongAnswerRetry: 'Wrong answer. Try again.',
      audioTitle: 'Audio version',
      play: 'Play audio',
      pause: 'Pause',
      replay: 'Replay from the start',
      audioLoading: 'Loading the audio…',
      audioEnded: 'End of the audio.',
      audioFailed: 'The audio could not be loaded. Try again or choose “Wait instead”.',
      errors: {
        'network-error': 'the check service does not respond.',
        'rate-limited': 'the check service is overloaded.',
        'rate-limited-wait': 'the check service is overloaded. Retry in {seconds} s.',
        'service-error': 'the check service rejected the request.',
        'challenge-failed': 'the check failed.',
        'expired': 'the check expired several times in a row.',
        'solver-failed': 'the check computation could not run on this device.',
        'unsupported-challenge': 'this kind of check is not supported yet.',
        'invalid-options': 'the check is not configured correctly.'
      }
    }
  };

  internals.LANGUAGES = ['fr', 'en'];

  /** Returns the catalogue of `lang`, or the French one for other values. */
  internals.messages = function (lang) {
    return catalogue[lang] || catalogue.fr;
  };

  /**
   * Returns the phrasing of the instruction `name` in `messages` for a
   * challenge's `wording` index, or the first phrasing when `wording` is
   * missing, negative, not an integer or past the last phrasing.
   */
  internals.phrasing = function (messages, name, wording) {
    var phrasings = messages[name];
    var valid = Number.isInteger(wording) && wording >= 0 && wording < phrasings.length;
    return phrasings[valid ? wording : 0];
  };

  /** Replaces each `{name}` in `template` with values[name]. */
  internals.format = function (template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  };
})(window.challengeWidgetInternals);
