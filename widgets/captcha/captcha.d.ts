// Public surface of the challenge widget (captcha.js), version 1.
// This is a global declaration file: captcha.js is a classic script that sets
// window.challengeWidget, so there is nothing to import.

/** Id returned by render(), e.g. "challenge-widget-1". */
type ChallengeWidgetId = string;

/**
 * Value of the data-state attribute on the widget element.
 * - idle: rendered, waiting for the widget to be visible, a focus in the
 *   form, a click on "Vérifier maintenant" or execute().
 * - working: fetching or solving a proof of work, or sending an answer.
 * - challenge: a step needs the person or counts down; data-challenge names
 *   it (see ChallengeWidgetStep). A pending execute() waits for it.
 * - success: the hidden field contains a pass token.
 * - error: an error is shown with a retry button (none for invalid-options).
 * - expired: the token expired or was spent by a form submission, and the
 *   next interaction or execute() starts a new check.
 */
type ChallengeWidgetState = "idle" | "working" | "challenge" | "success" | "error" | "expired";

/**
 * Value of the data-challenge attribute on the widget element while
 * data-state is "challenge".
 * - hold: press and hold a button (pointer, touch, Space or Enter).
 * - wait: a countdown with nothing to do; the widget answers by itself.
 * - image: type what an image shows, or what its audio version says.
 */
type ChallengeWidgetStep = "hold" | "wait" | "image";

/**
 * Closed list of error codes, in Error.code, data-error-code and the first
 * argument of the error callback.
 */
type ChallengeWidgetErrorCode =
  /** remove() was called while execute() was pending, or execute() was called after it. */
  | "removed"
  /** reset() was called while execute() was pending. */
  | "reset"
  /** A request failed, timed out after 15 s, or returned a body that is not JSON. */
  | "network-error"
  /** The service responded with 429 or 503; retryAfter is set when Retry-After was readable. */
  | "rate-limited"
  /**
   * Any other 4xx or 5xx, e.g. unknown-sitekey, origin-not-allowed, or
   * invalid-risk-ticket for an expired or foreign risk ticket (see serviceError).
   */
  | "service-error"
  /**
   * The answer was rejected: wrong-answer (a proof of work, or an image with
   * no attempt and no next step left), already-answered, invalid-envelope or
   * unknown-challenge.
   */
  | "challenge-failed"
  /** The service sent a challenge kind or mode that this widget has no view for. */
  | "unsupported-challenge"
  /** No solver placement could run the proof of work (two crashes, or none could start). */
  | "solver-failed"
  /** The service responded `expired` three times in a row (two automatic retries). */
  | "expired"
  /**
   * Missing sitekey, invalid action or api, a riskTicket that is not a string,
   * no such element, unknown widget id, or no widget rendered.
   */
  | "invalid-options"
  /** A bug in the widget; the message names what failed. */
  | "internal-error";

interface ChallengeWidgetError extends Error {
  name: "ChallengeWidgetError";
  code: ChallengeWidgetErrorCode;
  /** HTTP status, when the error came from a service response. */
  status?: number;
  /** The service's own `error` code, e.g. "wrong-answer" or "unknown-sitekey". */
  serviceError?: string | null;
  /** Seconds from Retry-After, for rate-limited. */
  retryAfter?: number | null;
}

/**
 * Options of render(). Each one overrides the data attribute of the same
 * name on the element (data-sitekey, data-action, data-callback, ...).
 */
interface ChallengeWidgetOptions {
  /** Site key; required here or as data-sitekey. */
  sitekey?: string;
  /** Action name sent with the challenge request, [A-Za-z0-9_.-]{1,32}; default "default". */
  action?: string;
  /** Called with the pass token on success; a function or the name of a global function. */
  callback?: ((token: string) => void) | string;
  /** Called when the token expires or is spent by a form submission. */
  expiredCallback?: (() => void) | string;
  /** Called with the error code and the error when the widget shows an error. */
  errorCallback?: ((code: ChallengeWidgetErrorCode, error: ChallengeWidgetError) => void) | string;
  /** Language of the widget and of the request; default "fr". */
  lang?: "fr" | "en";
  /** Name of the hidden form field; default "challenge-response". */
  responseFieldName?: string;
  /** Absolute URL of the service root; default the origin of captcha.js. */
  api?: string;
  /** "main-thread" skips the Web Worker placements, e.g. under a CSP without worker-src blob:. */
  solver?: "auto" | "main-thread";
  /**
   * Risk ticket from POST /api/v1/risk-tickets, sent with each challenge
   * request. Without this option the widget reads data-risk-ticket at each
   * request, so a page can replace an expired ticket in the attribute.
   */
  riskTicket?: string;
}

interface ChallengeWidgetApi {
  readonly version: "1";
  /**
   * Renders a widget into an element or the first element matching a
   * selector. Throws a TypeError with code "invalid-options" for a missing
   * element or sitekey, an invalid option, or an element that already has a
   * widget.
   */
  render(container: Element | string, options?: ChallengeWidgetOptions): ChallengeWidgetId;
  /**
   * Resolves with a valid pass token, starting a check if none is ready.
   * Settles exactly once, and rejects with a ChallengeWidgetError.
   * Ignoring the returned promise causes no unhandledrejection event.
   */
  execute(widgetId?: ChallengeWidgetId): Promise<string>;
  /**
   * Returns the current pass token, or "" when there is none.
   * getResponse, reset and remove throw a TypeError for an id that render()
   * never returned. Without an id they act on the first widget still on the
   * page, and do nothing (getResponse returns "") when there is none.
   */
  getResponse(widgetId?: ChallengeWidgetId): string;
  /** Clears the token and returns to idle; pending execute() calls reject with "reset". */
  reset(widgetId?: ChallengeWidgetId): void;
  /** Removes the widget and its hidden field; pending execute() calls reject with "removed". */
  remove(widgetId?: ChallengeWidgetId): void;
}

interface Window {
  challengeWidget: ChallengeWidgetApi;
  /** Called once the widget files have loaded and the API is usable. */
  challengeWidgetOnload?: () => void;
}

declare var challengeWidget: ChallengeWidgetApi;
