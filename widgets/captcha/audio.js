/*
 * Audio version of an image challenge: an <audio> element without native
 * controls, driven by the widget's own buttons. It never plays on its own:
 * preload is none and the clip loads on the person's first request, so a
 * page that shows the image downloads no audio.
 */
(function (internals) {
  'use strict';

  var element = internals.element;

  /**
   * Creates the player. `toggleButton` plays and pauses, `replayButton`
   * starts again from the beginning and shows once a clip has loaded.
   * `context` is the step view's context (texts, language, announce).
   * Returns {setSource(url), toggle(), replay(), stop(), destroy(), audio}.
   */
  internals.createAudioPlayer = function (context, toggleButton, replayButton) {
    var text = context.text;
    var audio = element('audio', 'cw-audio', { preload: 'none' });
    audio.autoplay = false;
    var source = '';
    var loadedSource = '';

    function showPlaying(playing) {
      toggleButton.textContent = playing ? text.pause : text.listen;
    }

    function fail() {
      loadedSource = '';
      showPlaying(false);
      replayButton.hidden = true;
      context.announce(text.audioFailed);
      context.showMessage(text.audioFailed);
    }

    audio.addEventListener('play', function () { showPlaying(true); });
    audio.addEventListener('pause', function () { showPlaying(false); });
    audio.addEventListener('loadedmetadata', function () { replayButton.hidden = false; });
    audio.addEventListener('ended', function () {
      showPlaying(false);
      context.announce(text.audioEnded);
    });
    audio.addEventListener('error', function () {
      if (!source) return;
      console.warn('challenge widget: the audio did not load: ' + (audio.error ? 'media error ' + audio.error.code : 'unknown error'));
      fail();
    });

    function play() {
      if (loadedSource !== source) {
        loadedSource = source;
        audio.src = source;
      }
      var playing = audio.play();
      if (playing && typeof playing.catch === 'function') {
        playing.catch(function (error) {
          // pause() before the clip started rejects with AbortError, which is expected.
          if (error && error.name === 'AbortError') return;
          // A source that cannot load also fires the element's error event.
          if (error && error.name === 'NotSupportedError') return;
          console.warn('challenge widget: the audio did not play: ' + error);
          fail();
        });
      }
    }

    return {
      audio: audio,

      /** Sets the clip of the current challenge; the next play loads it. */
      setSource: function (url) {
        audio.pause();
        source = url;
        loadedSource = '';
        audio.removeAttribute('src');
        audio.load();
        replayButton.hidden = true;
        showPlaying(false);
      },

      /** Plays the clip, loading it first if needed, or pauses it. */
      toggle: function () {
        if (!source) return;
        if (audio.paused) play();
        else audio.pause();
      },

      replay: function () {
        if (!source) return;
        if (loadedSource === source) audio.currentTime = 0;
        play();
      },

      stop: function () {
        audio.pause();
      },

      destroy: function () {
        source = '';
        audio.pause();
        audio.removeAttribute('src');
        audio.load();
      }
    };
  };
})(window.challengeWidgetInternals);
