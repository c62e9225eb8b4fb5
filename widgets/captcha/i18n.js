/*
 * Message catalogue of the widget, French first. The widget loads this file
 * before the others; `{seconds}` and `{percent}` are filled in by format().
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

  /** Replaces each `{name}` in `template` with values[name]. */
  internals.format = function (template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : match;
    });
  };
})(window.challengeWidgetInternals);
