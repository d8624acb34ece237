// The websocket to the server, kept open for the life of the page.
//
// Every (re)connect starts with the page's first message (join, watch or control),
// so the server can always tell who is talking. Each command carries a `ref`, and
// the server echoes it in the `ack` or `error` it sends in reply, which settles the
// promise that `send` returns.

const FIRST_RETRY_DELAY_MS = 500;
const MAX_RETRY_DELAY_MS = 10_000;
/** The server pings after 15 s of silence, so 45 s without any message means the socket is dead. */
const SILENCE_LIMIT_MS = 45_000;
/** On waking a phone, a socket silent for longer than this is replaced at once instead of awaited. */
const STALE_AFTER_WAKE_MS = 20_000;
/** Error codes for the first message that may clear on a later attempt, so the connection retries. */
const TRANSIENT_CODES = new Set(["store_unavailable", "server_error"]);
/** Error codes after which reconnecting cannot help, so the connection stops. */
const FINAL_CODES = new Set(["workshop_deleted"]);
/** How long "Changes are saved again." stays on screen after a pause ends. */
const RESUMED_NOTICE_MS = 6_000;

const STATUS_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Connection lost: reconnecting…",
  offline: "Offline: reconnecting when the network is back…",
  rejected: "Not joined",
  stopped: "Disconnected",
};

/** A command the server rejected, or that could not be sent or confirmed. */
export class CommandError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "CommandError";
    this.code = code;
  }
}

export class Connection {
  #hello;
  #onMessage;
  #onRejected;
  #statusElement;
  #storeStatusElement;
  #storeNoticeTimer = null;
  #socket = null;
  #welcomed = false;
  #stopped = true;
  #retryCount = 0;
  #retryTimer = null;
  #silenceTimer = null;
  #lastMessageAt = 0;
  #nextRef = 1;
  #helloRef = null;
  #pending = new Map();

  /**
   * @param {object} options
   * @param {() => object} options.hello builds the first message; called on every (re)connect.
   * @param {(message: object) => void} options.onMessage receives welcome, views, your_vote
   *   and errors that match no pending command.
   * @param {(error: {code: string, message: string}) => void} [options.onRejected] receives
   *   the server's error when it rejects the first message for a reason a retry cannot fix;
   *   the socket stays open so the page can fix the message and call `resendHello`, or call
   *   `stop`. Without it the connection stops.
   * @param {HTMLElement} options.statusElement a live region that shows the connection state.
   * @param {HTMLElement} [options.storeStatusElement] a live region that shows the server's
   *   `status` messages: whether changes are paused because its database is unreachable.
   */
  constructor({ hello, onMessage, onRejected, statusElement, storeStatusElement }) {
    this.#hello = hello;
    this.#onMessage = onMessage;
    this.#onRejected = onRejected;
    this.#statusElement = statusElement;
    this.#storeStatusElement = storeStatusElement;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        this.#checkAfterWake();
      }
    });
    window.addEventListener("online", () => this.#cameOnline());
    window.addEventListener("offline", () => this.#wentOffline());
  }

  /** Whether the server has welcomed this socket, so commands can be sent. */
  get welcomed() {
    return this.#welcomed;
  }

  start() {
    this.#stopped = false;
    this.#retryCount = 0;
    this.#open();
  }

  /** Closes the socket and stops reconnecting until `start` or `resendHello` is called. */
  stop() {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#closeSocket();
    this.#setStatus("stopped");
  }

  /** Sends the first message again, e.g. after the page fixed what the server rejected. */
  resendHello() {
    if (this.#socket && this.#socket.readyState === WebSocket.OPEN && !this.#stopped) {
      this.#sendHello();
      return;
    }
    this.start();
  }

  /**
   * Sends a command with a fresh `ref`.
   *
   * Returns a promise that resolves with the `ack` and rejects with a CommandError. The
   * error is the server's `error`, or "not_connected" when no welcomed socket is open, or
   * "disconnected" when the socket closed before the server replied. After "disconnected"
   * the command may or may not be stored.
   */
  send(message) {
    const socket = this.#socket;
    if (!this.#welcomed || !socket || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(
        new CommandError(
          "not_connected",
          "Not connected to the server. Wait until the status shows Connected, then try again.",
        ),
      );
    }
    const ref = this.#nextRef++;
    return new Promise((resolve, reject) => {
      this.#pending.set(ref, { resolve, reject });
      socket.send(JSON.stringify({ ...message, ref }));
    });
  }

  #open() {
    clearTimeout(this.#retryTimer);
    this.#closeSocket();
    this.#setStatus(this.#retryCount === 0 ? "connecting" : this.#lostStatus());

    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws`);
    this.#socket = socket;
    this.#lastMessageAt = Date.now();
    this.#armSilenceTimer();
    socket.addEventListener("open", () => this.#sendHello());
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", () => {
      if (this.#socket === socket) {
        this.#dropAndRetry();
      }
    });
  }

  #sendHello() {
    this.#helloRef = this.#nextRef++;
    this.#socket.send(JSON.stringify({ ...this.#hello(), ref: this.#helloRef }));
  }

  #receive(data) {
    this.#lastMessageAt = Date.now();
    this.#armSilenceTimer();
    let message;
    try {
      message = JSON.parse(data);
    } catch (error) {
      console.warn("Ignored a websocket frame that is not JSON:", error);
      return;
    }

    switch (message.type) {
      case "ping":
        return;
      case "status":
        this.#showStoreStatus(message);
        return;
      case "welcome":
        this.#welcomed = true;
        this.#retryCount = 0;
        this.#setStatus("connected");
        this.#onMessage(message);
        return;
      case "ack":
        this.#settle(message.ref, (pending) => pending.resolve(message));
        return;
      case "error":
        if (message.ref !== null && message.ref === this.#helloRef && !this.#welcomed) {
          this.#helloRejected(message);
          return;
        }
        if (this.#pending.has(message.ref)) {
          this.#settle(message.ref, (pending) =>
            pending.reject(new CommandError(message.code, message.message)),
          );
          return;
        }
        if (FINAL_CODES.has(message.code)) {
          this.stop();
        }
        this.#onMessage(message);
        return;
      default:
        this.#onMessage(message);
    }
  }

  /** Shows a pause notice until the server reports that changes are saved again. */
  #showStoreStatus(status) {
    const element = this.#storeStatusElement;
    if (!element) {
      return;
    }
    clearTimeout(this.#storeNoticeTimer);
    element.dataset.store = status.store;
    element.textContent = status.message;
    element.hidden = false;
    if (status.store === "ok") {
      this.#storeNoticeTimer = setTimeout(() => {
        element.hidden = true;
      }, RESUMED_NOTICE_MS);
    }
  }

  #settle(ref, callback) {
    const pending = this.#pending.get(ref);
    if (pending) {
      this.#pending.delete(ref);
      callback(pending);
    }
  }

  #helloRejected(error) {
    if (TRANSIENT_CODES.has(error.code)) {
      console.warn(`The server rejected the first message (${error.code}); retrying:`, error.message);
      this.#dropAndRetry();
      return;
    }
    this.#setStatus("rejected");
    if (this.#onRejected) {
      this.#onRejected(error);
    } else {
      this.stop();
    }
  }

  #armSilenceTimer() {
    clearTimeout(this.#silenceTimer);
    this.#silenceTimer = setTimeout(() => {
      console.warn(`No message for ${SILENCE_LIMIT_MS / 1000} s; reconnecting.`);
      this.#dropAndRetry();
    }, SILENCE_LIMIT_MS);
  }

  /** Reconnects at once when a phone wakes or comes back online with a dead or stale socket. */
  #checkAfterWake() {
    if (this.#stopped) {
      return;
    }
    const silentFor = Date.now() - this.#lastMessageAt;
    if (!this.#socket || silentFor > STALE_AFTER_WAKE_MS) {
      this.#retryCount = Math.max(this.#retryCount, 1);
      this.#open();
    }
  }

  /**
   * Drops the socket when the browser reports that the network is gone. Such a socket
   * may stay open with no close event for a long time (Chromium's offline emulation
   * holds its frames back until the network returns), so without this the page would
   * show "Connected" while nothing arrives.
   */
  #wentOffline() {
    if (this.#stopped) {
      return;
    }
    console.warn("The browser reports no network; reconnecting when it is back.");
    this.#dropAndRetry();
  }

  /** Reconnects at once when the network returns, without waiting out the backoff. */
  #cameOnline() {
    if (this.#stopped) {
      return;
    }
    if (!this.#welcomed) {
      this.#retryCount = Math.max(this.#retryCount, 1);
      this.#open();
      return;
    }
    this.#checkAfterWake();
  }

  #closeSocket() {
    clearTimeout(this.#silenceTimer);
    const socket = this.#socket;
    this.#socket = null;
    this.#welcomed = false;
    this.#helloRef = null;
    if (socket) {
      // A socket that died without a close frame may never fire "close", so it is
      // abandoned here rather than awaited.
      try {
        socket.close();
      } catch (error) {
        console.warn("Closing the websocket failed:", error);
      }
    }
    for (const pending of this.#pending.values()) {
      pending.reject(
        new CommandError(
          "disconnected",
          "The connection dropped before the server confirmed this, so it may not have been saved.",
        ),
      );
    }
    this.#pending.clear();
  }

  #dropAndRetry() {
    this.#closeSocket();
    if (this.#stopped) {
      return;
    }
    // Exponential backoff with jitter: a random delay between half and all of
    // 0.5 s × 2^n, capped at 10 s, so a room of phones does not reconnect in step.
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, FIRST_RETRY_DELAY_MS * 2 ** this.#retryCount);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.#retryCount += 1;
    this.#setStatus(this.#lostStatus());
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#open(), delay);
  }

  /** Returns the status to show while reconnecting: "offline" when the browser reports no network. */
  #lostStatus() {
    return navigator.onLine === false ? "offline" : "reconnecting";
  }

  #setStatus(state) {
    const element = this.#statusElement;
    if (!element || element.dataset.state === state) {
      return;
    }
    element.dataset.state = state;
    element.textContent = STATUS_TEXT[state];
  }
}
